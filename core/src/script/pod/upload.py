"""Upload the trained artifacts with a sha256 manifest: to the app (presigned PUT per file),
to a network volume, or to the Hugging Face Hub. Success only once the destination confirms."""

import hashlib
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

from reporter import Reporter

CHUNK = 1 << 20


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(root):
    files = []
    for base, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            files.append({"path": rel, "size": os.path.getsize(path), "sha256": sha256_of(path)})
    return sorted(files, key=lambda f: f["path"])


def retry_until():
    """When retries stop: the end of the upload's reserve (the bootstrap sets it), else about a
    minute from now. An app that is down for a while then loses nothing it comes back within."""
    until = os.environ.get("TRAINPOD_UPLOAD_UNTIL", "")
    return float(until) if until.isdigit() else time.time() + 60


def retry(action, until=None):
    """Run `action`, retrying transient failures (5xx, 408, 429, no connection) with backoff
    until `until` (Unix seconds); other 4xx are final."""
    until = retry_until() if until is None else until
    attempt = 0
    while True:
        try:
            return action()
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code not in (408, 429):
                raise
            if time.time() >= until:
                raise
        except OSError:
            if time.time() >= until:
                raise
        delay = min(15.0, 2.0**attempt, max(0.0, until - time.time()))
        print(f"upload: the app is not answering; retrying in {delay:.0f} s", file=sys.stderr)
        time.sleep(delay)
        attempt += 1


def post_json(url, token, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read(1 << 20) or b"{}")


def put_file(url, headers, path):
    with open(path, "rb") as f:
        request = urllib.request.Request(url, data=f, method="PUT")
        request.add_header("Content-Length", str(os.path.getsize(path)))
        for name, value in headers.items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=600) as response:
            response.read()


def send_to_app(cfg, root, body, what, sent=None):
    """The app's artifacts protocol: the manifest `body`, a PUT of each file the app asks for
    (`sent(path)` after each), then the confirmation; raises, naming `what`, unless the app
    confirms."""
    a = cfg["artifacts"]
    answer = retry(lambda: post_json(a["url"], a["token"], body))
    for item in answer.get("uploads", []):
        path = os.path.join(root, item["path"])
        retry(lambda item=item, path=path: put_file(item["url"], item.get("headers", {}), path))
        if sent:
            sent(item["path"])
    done = retry(lambda: post_json(a["url"], a["token"], {**body, "complete": True}))
    if done.get("complete") is not True:
        raise RuntimeError(f"the app did not confirm {what}: {done}")


def to_app(cfg, root, files, rep):
    body = {"job": cfg["job_id"], "attempt": cfg["attempt"], "files": files}
    send_to_app(
        cfg, root, body, "the artifact manifest", lambda path: rep.emit("uploaded", path=path)
    )


def to_volume(cfg, root, files):
    dest = os.path.join(cfg["artifacts"]["path"], cfg["job_id"], str(cfg["attempt"]))
    shutil.copytree(root, dest, dirs_exist_ok=True)
    with open(os.path.join(dest, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"files": files}, f)


def to_hub(cfg, root):
    from huggingface_hub import HfApi

    a = cfg["artifacts"]
    api = HfApi(token=a["token"])
    api.create_repo(a["repo"], private=True, exist_ok=True)
    # upload_folder resumes when re-run: committed files are skipped.
    api.upload_folder(
        repo_id=a["repo"],
        folder_path=root,
        commit_message=f"trainpod job {cfg['job_id']} attempt {cfg['attempt']}",
    )


def main():
    with open(
        os.path.join(os.environ["TRAINPOD_BUNDLE_DIR"], "config.json"), encoding="utf-8"
    ) as f:
        cfg = json.load(f)
    root = os.path.join(os.environ["TRAINPOD_WORK_DIR"], "output", "final")
    if not os.path.isdir(root):
        print(f"upload: nothing to upload: {root} does not exist", file=sys.stderr)
        return 3
    files = manifest(root)
    rep = Reporter.from_bundle(source="upload").start()
    try:
        kind = cfg["artifacts"]["kind"]
        if kind == "app":
            to_app(cfg, root, files, rep)
        elif kind == "volume":
            to_volume(cfg, root, files)
        elif kind == "hub":
            to_hub(cfg, root)
        rep.emit("artifacts", kind=kind, files=files)
    finally:
        rep.close(timeout=10.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
