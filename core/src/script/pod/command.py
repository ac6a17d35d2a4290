"""Custom-command mode: run the user's argv literally (no shell), with the reporter CLI on hand."""

import json
import os
import sys

bundle = os.environ["TRAINPOD_BUNDLE_DIR"]
with open(os.path.join(bundle, "config.json"), encoding="utf-8") as f:
    argv = json.load(f)["training"]["argv"]
os.environ["TRAINPOD_REPORT"] = os.path.join(bundle, "reporter.py")
os.environ["TRAINPOD_PYTHON"] = sys.executable
os.environ["TRAINPOD_OUTPUT_DIR"] = os.path.join(os.environ["TRAINPOD_WORK_DIR"], "output", "final")
os.makedirs(os.environ["TRAINPOD_OUTPUT_DIR"], exist_ok=True)
os.execvp(argv[0], argv)
