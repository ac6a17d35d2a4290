"""Durable checkpoints: each one the trainer saves is copied, whole and with a sha256 manifest, to
where the job keeps its artifacts (the app's artifacts route or the network volume); an attempt
that follows a failed one starts from the newest (`fetch`, run by the bootstrap's resume stage).

A checkpoint only counts once every file arrived and matched: the app confirms the manifest, the
volume's copy is renamed into place after its manifest is written. Older checkpoints are dropped
only after that, so a pod that dies mid-copy leaves the previous one usable.

As a CLI: `python checkpoint.py fetch` (exit 0 with nothing to resume, or with the checkpoint in
place under the trainer's output directory; 14 when a listed checkpoint cannot be fetched whole).
"""

import json
import os
import re
import shutil
import sys
import urllib.request

from upload import manifest, retry, send_to_app, sha256_of

CHUNK = 1 << 20
FETCH_FAILED = 14
_NAME = re.compile(r"^(\d+)-(\d+)$")


def load_config():
    with open(
        os.path.join(os.environ["TRAINPOD_BUNDLE_DIR"], "config.json"), encoding="utf-8"
    ) as f:
        return json.load(f)


def checkpoints_dir():
    """Where the trainer saves `checkpoint-<step>` folders (and where a resumed one is put)."""
    return os.path.join(os.environ["TRAINPOD_WORK_DIR"], "output", "checkpoints")


def destination(cfg):
    """Where this job's checkpoints go: `app`, `volume`, or None when its artifacts go to the
    Hub or nowhere (a checkpoint then lives and dies with the pod)."""
    kind = cfg["artifacts"]["kind"]
    return kind if kind in ("app", "volume") else None


def volume_root(cfg):
    return os.path.join(cfg["artifacts"]["path"], cfg["job_id"], "checkpoints")


def save(cfg, folder, step):
    """Copies the checkpoint in `folder` (the trainer's `checkpoint-<step>`) to durable storage;
    returns its manifest's files."""
    files = manifest(folder)
    kind = destination(cfg)
    if kind == "app":
        to_app(cfg, folder, files, step)
    elif kind == "volume":
        to_volume(cfg, folder, files, step)
    return files


def to_app(cfg, folder, files, step):
    body = {"job": cfg["job_id"], "attempt": cfg["attempt"], "files": files, "checkpoint": step}
    send_to_app(cfg, folder, body, f"checkpoint {step}")


def to_volume(cfg, folder, files, step):
    root = volume_root(cfg)
    name = f"{cfg['attempt']}-{step}"
    partial = os.path.join(root, f".{name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(folder, partial)
    with open(os.path.join(partial, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"step": step, "attempt": cfg["attempt"], "files": files}, f)
        f.flush()
        os.fsync(f.fileno())
    final = os.path.join(root, name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    # Only now is the older one redundant.
    for other in os.listdir(root):
        if other != name and _NAME.match(other):
            shutil.rmtree(os.path.join(root, other), ignore_errors=True)


def check_files(folder, files):
    """Raises unless every listed file is in `folder` with its size and sha256."""
    for item in files:
        path = os.path.join(folder, item["path"])
        if not os.path.isfile(path) or os.path.getsize(path) != item["size"]:
            raise RuntimeError(f"checkpoint file {item['path']} is missing or cut short")
        if sha256_of(path) != item["sha256"]:
            raise RuntimeError(f"checkpoint file {item['path']} does not match its sha256")


def newest_on_volume(cfg):
    """The newest complete checkpoint on the volume: (folder, manifest), or None."""
    root = volume_root(cfg)
    best = None
    for name in os.listdir(root) if os.path.isdir(root) else []:
        match = _NAME.match(name)
        listed = os.path.join(root, name, "manifest.json")
        if match and os.path.isfile(listed):
            step = int(match.group(2))
            if best is None or step > best[0]:
                best = (step, os.path.join(root, name))
    if best is None:
        return None
    with open(os.path.join(best[1], "manifest.json"), encoding="utf-8") as f:
        return best[1], json.load(f)


def get_file(url, token, dest):
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"Bearer {token}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with urllib.request.urlopen(request, timeout=600) as response, open(dest, "wb") as f:
        shutil.copyfileobj(response, f, CHUNK)


def fetch_from_app(cfg, resume, dest):
    token = cfg["artifacts"]["token"]
    for item in resume["files"]:
        url = f"{resume['url']}/{item['path']}"
        path = os.path.join(dest, item["path"])
        retry(lambda url=url, path=path: get_file(url, token, path))


def fetch(cfg):
    """Puts the checkpoint to resume from in place: returns its step, or None to start afresh."""
    resume = cfg.get("resume")
    if not resume:
        return None
    if resume["kind"] == "volume":
        found = newest_on_volume(cfg)
        if found is None:
            return None
        source, listed = found
        step, files = listed["step"], listed["files"]
    else:
        source, step, files = None, resume["step"], resume["files"]
    dest = os.path.join(checkpoints_dir(), f"checkpoint-{step}")
    shutil.rmtree(dest, ignore_errors=True)
    if source is None:
        fetch_from_app(cfg, resume, dest)
    else:
        check_files(source, files)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("manifest.json"))
    check_files(dest, files)
    return step


def main(argv):
    if argv[1:] != ["fetch"]:
        print("usage: checkpoint.py fetch", file=sys.stderr)
        return 2
    cfg = load_config()
    try:
        step = fetch(cfg)
    except Exception as err:  # noqa: BLE001 - any failure is this stage's, with its cause
        print(f"checkpoint: {type(err).__name__}: {err}", file=sys.stderr)
        with open(
            os.path.join(os.environ["TRAINPOD_STATE_DIR"], "cause"), "w", encoding="utf-8"
        ) as f:
            f.write(f"the checkpoint to resume from could not be fetched whole: {err}"[:500])
        return FETCH_FAILED
    if step is None:
        print("checkpoint: none kept by an earlier attempt: training from step 0", file=sys.stderr)
        return 0
    with open(
        os.path.join(os.environ["TRAINPOD_STATE_DIR"], "resume_step"), "w", encoding="ascii"
    ) as f:
        f.write(str(step))
    print(f"checkpoint: resuming from the checkpoint of step {step}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
