"""Check the quickstart's summary: the job succeeded, the pod was terminated, and what the
provider billed for it is within the plan's estimate; on the local provider also, against what is
on disk, that the loss went down, every artifact exists with the sha256 the summary names and no
process of the pod is left.

usage: check-quickstart.py SUMMARY.json [--runpod]
  --runpod  a summary of `quickstart --runpod` (real RunPod: no artifacts, losses or processes
            on this machine to check)
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


def bill_problems(s):
    """The provider's bill for the pod, beside the plan's estimate."""
    billed, (low, high) = s.get("billed_usd"), s["estimate_usd"]
    if billed is None:
        return ["the provider billed nothing for the pod (no billing record)"]
    if not 0 <= billed <= high:
        return [f"the bill ${billed:.4f} is outside the estimate ${low:.4f}-{high:.4f}"]
    return []


def local_problems(s):
    """What the local provider leaves on this machine: losses, artifacts, processes."""
    problems = []
    first, last = s.get("loss_first"), s.get("loss_last")
    if first is None or last is None or not last < first:
        problems.append(f"loss did not go down: {first} -> {last}")
    names = [a["path"] for a in s["artifacts"]]
    if not any(n.endswith("adapter_model.safetensors") for n in names):
        problems.append(f"no adapter among the artifacts: {names}")
    for a in s["artifacts"]:
        if sha256(a["path"]) != a["sha256"]:
            problems.append(f"{a['path']} does not match its sha256")
    if s["leftover_processes"] != 0:
        problems.append(f"{s['leftover_processes']} process(es) left behind")
    return problems


def main(path, runpod):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    problems = []
    if s["state"] != "succeeded":
        problems.append(f"state is {s['state']} ({s.get('reason')})")
    if s["pod_terminated"] is not True:
        problems.append("the pod was not terminated")
    problems += bill_problems(s)
    if not runpod:
        problems += local_problems(s)
    names = [a["path"] for a in s.get("artifacts", [])]
    for p in problems:
        print(f"quickstart check: {p}", file=sys.stderr)
    billed = s.get("billed_usd")
    print(
        f"quickstart check: {'failed' if problems else 'passed'} ({len(names)} artifacts, "
        f"billed ${billed or 0:.4f} of an estimate up to ${s['estimate_usd'][1]:.4f})"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--runpod"]):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], runpod=sys.argv[2:] == ["--runpod"]))
