"""Check .github/workflows/release.yml, which only runs on GitHub: it parses, every script its
steps run exists, every `run:` block is valid bash, the build steps call scripts/packages.sh with
arguments it accepts and for platforms bindings-node/npm/ has, and the smoke job runs
scripts/smoke.sh --runpod only when the RUNPOD_API_KEY secret is set. CI runs those scripts
themselves on Linux x86_64 (packages.sh, and smoke.sh against the local provider).

usage: check-workflow.py [WORKFLOW.yml]
"""

import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES_FLAGS = {"--profile", "--out", "--platform", "--build-only"}


def runs(workflow):
    """(job, step name, run block) for every `run:` step."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield job_id, step.get("name", step["run"].splitlines()[0]), step["run"]


def expand(block, job):
    """The block as bash sees it, with each `${{ matrix.X }}` as one matrix row gives it."""
    rows = job.get("strategy", {}).get("matrix", {}).get("include", [{}])
    for row in rows:
        yield re.sub(
            r"\$\{\{\s*([^}]*?)\s*\}\}",
            lambda m, row=row: str(row.get(m.group(1).removeprefix("matrix."), "X")),
            block,
        )


def problems(workflow):
    found = []
    platforms = {p.name for p in (ROOT / "bindings-node/npm").iterdir() if p.is_dir()}
    for job_id, name, block in runs(workflow):
        job = workflow["jobs"][job_id]
        for script in re.findall(r"scripts/[\w./-]+\.(?:sh|py)", block):
            if not (ROOT / script).is_file():
                found.append(f"{job_id}/{name}: runs {script}, which does not exist")
        for text in expand(block, job):
            bash = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
            if bash.returncode != 0:
                found.append(f"{job_id}/{name}: not valid bash: {bash.stderr.strip()}")
            for call in re.findall(r"scripts/packages\.sh([^\n]*)", text):
                args = call.split()
                flags = {a for a in args if a.startswith("--")}
                if flags - PACKAGES_FLAGS:
                    found.append(f"{job_id}: packages.sh has no {sorted(flags - PACKAGES_FLAGS)}")
                if "--platform" in args and args[args.index("--platform") + 1] not in platforms:
                    found.append(f"{job_id}: no bindings-node/npm/ platform in {call!r}")
    covered = {row["platform"] for j in ("linux", "macos") for row in matrix(workflow, j)}
    if covered != platforms:
        found.append(
            f"the builds cover {sorted(covered)}, bindings-node/npm/ has {sorted(platforms)}"
        )
    smoke = [s for s in workflow["jobs"]["smoke"]["steps"] if "smoke.sh" in s.get("run", "")]
    if [s["run"].split()[:3] for s in smoke] != [["bash", "scripts/smoke.sh", "--runpod"]]:
        found.append("the smoke job must run `bash scripts/smoke.sh --runpod` once")
    elif smoke[0].get("if") != "env.RUNPOD_API_KEY != ''":
        found.append("the smoke run must be guarded by `if: env.RUNPOD_API_KEY != ''`")
    triggers = workflow.get("on", workflow.get(True, {}))  # YAML 1.1 reads `on` as true
    if "schedule" not in triggers:
        found.append("the smoke job has no schedule")
    return found


def matrix(workflow, job):
    return workflow["jobs"][job]["strategy"]["matrix"]["include"]


def main(path):
    workflow = yaml.safe_load(path.read_text())
    found = problems(workflow)
    for p in found:
        print(f"workflow: {p}", file=sys.stderr)
    steps = sum(1 for _ in runs(workflow))
    print(f"workflow: {path.name} {'failed' if found else 'passed'} ({steps} run steps checked)")
    return 1 if found else 0


if __name__ == "__main__":
    default = ROOT / ".github/workflows/release.yml"
    sys.exit(main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default))
