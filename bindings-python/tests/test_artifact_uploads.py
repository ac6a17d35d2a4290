"""Two artifact uploads of one job at once, whose names differ only in extension: each is kept
whole, checked on disk, and no temporary file is left behind."""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Iterator

import pytest
import trainpod
import trainpod.exceptions
from sdk_helpers import make, spec
from trainpod.testing import Emulator


def test_two_uploads_whose_names_differ_only_in_extension_are_kept_whole(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    tp.deploy(tp.plan(spec("arts-ext")))
    files = {
        "adapter.bin": bytes(range(256)) * 400,
        "adapter.json": b'{"r": 16}' * 5000,
    }
    listed = [
        {"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for p, b in files.items()
    ]
    token = tp.tokens.issue("artifacts.write", "user-1", "arts-ext", ttl_secs=600, epoch=1).token
    auth = f"Bearer {token}"

    def manifest(complete: bool) -> bytes:
        body = {"job": "arts-ext", "attempt": 1, "files": listed, "complete": complete}
        return json.dumps(body).encode()

    assert tp.artifact_manifest("arts-ext", auth, manifest(False)).status == 200

    def bin_body() -> Iterator[bytes]:
        blob = files["adapter.bin"]
        yield blob[:40_000]
        # The other upload runs whole while this one is open, as a second request would.
        tp.put_artifact("arts-ext", auth, "adapter.json", files["adapter.json"])
        yield blob[40_000:]

    tp.put_artifact("arts-ext", auth, "adapter.bin", bin_body())
    done = tp.artifact_manifest("arts-ext", auth, manifest(True))
    assert json.loads(done.body) == {"complete": True}
    out = tmp_path / "out"
    tp.download_artifacts("arts-ext", out)
    for path, body in files.items():
        assert (out / path).read_bytes() == body, path
    left = [p.name for p in (tmp_path / "artifacts").rglob("*") if "part" in p.name]
    assert left == []


def test_a_checkpoint_sent_by_one_attempt_is_served_to_the_next(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    plan = tp.plan(spec("ckpt-py"))
    assert plan.training.checkpoints == "app" and plan.training.checkpoint_minutes == 30
    assert "training: " in plan.describe()
    tp.deploy(plan)
    body = b"optimizer state" * 100
    listed = [{"path": "optimizer.pt", "size": len(body), "sha256": sha256(body)}]

    def auth(attempt: int) -> str:
        issued = tp.tokens.issue(
            "artifacts.write", "user-1", "ckpt-py", ttl_secs=600, epoch=attempt
        )
        return f"Bearer {issued.token}"

    def manifest(step: int, complete: bool) -> bytes:
        body = {"job": "ckpt-py", "attempt": 1, "files": listed, "checkpoint": step}
        return json.dumps({**body, "complete": complete}).encode()

    for step in (5, 10):
        answer = json.loads(tp.artifact_manifest("ckpt-py", auth(1), manifest(step, False)).body)
        assert [u["url"].split("/files/")[1] for u in answer["uploads"]] == [
            f"checkpoints/1/{step}/optimizer.pt"
        ]
        tp.put_artifact("ckpt-py", auth(1), f"checkpoints/1/{step}/optimizer.pt", body)
        done = tp.artifact_manifest("ckpt-py", auth(1), manifest(step, True))
        assert json.loads(done.body) == {"complete": True}
    # Its own attempt cannot read it back: only a later attempt resumes from it.
    with pytest.raises(trainpod.exceptions.NotFoundError):
        tp.checkpoint_file("ckpt-py", auth(1), "checkpoints/1/10/optimizer.pt")
    tp.cancel("ckpt-py")
    tp.retry("ckpt-py")
    found = tp.checkpoint_file("ckpt-py", auth(2), "checkpoints/1/10/optimizer.pt")
    assert pathlib.Path(found.path).read_bytes() == body and found.size == len(body)
    # The older checkpoint went once the newer one was whole.
    with pytest.raises(trainpod.exceptions.NotFoundError):
        tp.checkpoint_file("ckpt-py", auth(2), "checkpoints/1/5/optimizer.pt")
    with pytest.raises(trainpod.exceptions.TokenScopeMismatchError):
        tp.checkpoint_file("ckpt-py", auth(1), "checkpoints/1/10/optimizer.pt")


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
