"""Check the quickstart's summary against what is on disk: the job succeeded, the loss went down,
every artifact exists with the sha256 the summary names, the pod was terminated and no process
of it is left.

usage: check-quickstart.py SUMMARY.json
"""

import hashlib
import json
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(path):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    problems = []
    if s["state"] != "succeeded":
        problems.append(f"state is {s['state']} ({s.get('reason')})")
    first, last = s.get("loss_first"), s.get("loss_last")
    if first is None or last is None or not last < first:
        problems.append(f"loss did not go down: {first} -> {last}")
    names = [a["path"] for a in s["artifacts"]]
    if not any(n.endswith("adapter_model.safetensors") for n in names):
        problems.append(f"no adapter among the artifacts: {names}")
    for a in s["artifacts"]:
        if sha256(a["path"]) != a["sha256"]:
            problems.append(f"{a['path']} does not match its sha256")
    if s["pod_terminated"] is not True:
        problems.append("the pod was not terminated")
    if s["leftover_processes"] != 0:
        problems.append(f"{s['leftover_processes']} process(es) left behind")
    for p in problems:
        print(f"quickstart check: {p}", file=sys.stderr)
    print(f"quickstart check: {'failed' if problems else 'passed'} ({len(names)} artifacts)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
