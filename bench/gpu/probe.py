"""Run a training script in this process as `python -u SCRIPT` would, then write the process's
peak GPU memory as torch counted it (`torch.cuda.max_memory_allocated`/`max_memory_reserved`)
to PEAK_JSON, however the script ended.

usage: probe.py PEAK_JSON SCRIPT
"""

import json
import os
import runpy
import sys


def peak():
    try:
        import torch

        if torch.cuda.is_available():
            return {
                "max_allocated_bytes": torch.cuda.max_memory_allocated(),
                "max_reserved_bytes": torch.cuda.max_memory_reserved(),
            }
    except Exception:  # noqa: BLE001, S110 - a missing peak is recorded as null, never a failure
        pass
    return {"max_allocated_bytes": None, "max_reserved_bytes": None}


def main():
    out, script = sys.argv[1], os.path.abspath(sys.argv[2])
    # As `python SCRIPT`: its folder first on the path (trainer.py imports reporter from it).
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(peak(), f)


if __name__ == "__main__":
    main()
