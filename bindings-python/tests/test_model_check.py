"""`plan` checks the job's model before anything is spent: a model the Hugging Face Hub does not
have is refused before any pod exists, a gated one needs a token (`HF_TOKEN` in `pod_env`)
that was granted access, and a Hub that cannot be asked gives a warning, not a refusal.

The Hub is a stand-in on loopback (`http.server`) answering as the Hub's model API does."""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import trainpod
from sdk_helpers import settings, spec
from trainpod.testing import Emulator

GRANTED = "hf_granted_read_token"
GATED = "meta-llama/Llama-3.2-1B"
PUBLIC = "Qwen/Qwen2.5-0.5B"


class Hub(BaseHTTPRequestHandler):
    """`GET /api/models/{id}` and `/api/models/{id}/auth-check`, with the Hub's status codes:
    an anonymous request for a missing repository gets 401, as for a private one; a gated
    repository's metadata is public, and `auth-check` says whether the token was granted."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        Hub.seen.append((self.path, auth))
        path = self.path.removeprefix("/api/models/")
        repo, check = path.removesuffix("/auth-check"), path.endswith("/auth-check")
        if repo not in (PUBLIC, GATED):
            code = 404 if auth else 401
            return self.answer(code, {"error": "Repository not found"}, "RepoNotFound")
        gated = repo == GATED
        if check:
            if gated and auth != f"Bearer {GRANTED}":
                return self.answer(403 if auth else 401, {"error": "restricted"}, "GatedRepo")
            return self.answer(200, {})
        files = [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}]
        info = {"id": repo, "private": False, "gated": "manual" if gated else False}
        return self.answer(200, {**info, "siblings": files})

    def answer(self, status: int, body: dict[str, Any], code: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code:
            self.send_header("X-Error-Code", code)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    Hub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def own_emu() -> Iterator[Emulator]:
    """An emulator of this test's own: its requests are this test's alone."""
    with Emulator() as emulator:
        yield emulator


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def model_warnings(plan: trainpod.Plan) -> list[str]:
    return [w for w in plan.warnings if w.startswith("model ")]


def test_a_missing_model_is_refused_before_any_pod_exists(
    own_emu: Emulator, tmp_path: pathlib.Path, hub: str
) -> None:
    tp = trainpod.Trainpod(**settings(own_emu, tmp_path), hub_url=hub)
    with pytest.raises(trainpod.InvalidInputError) as raised:
        tp.plan(spec("missing-1", model="Qwen/Qwen2.5-0.5B-Typo"))
    message = str(raised.value)
    assert 'model "Qwen/Qwen2.5-0.5B-Typo"' in message, "names the field"
    assert "no such model on the Hugging Face Hub" in message
    assert "e.g. Qwen/Qwen2.5-0.5B" in message
    # Nothing reached RunPod: no pod, not even the plan's RunPod calls.
    assert own_emu.requests() == []
    # A model the Hub has plans without a warning, asked anonymously (no token configured).
    assert model_warnings(tp.plan(spec("exists-1", model=PUBLIC))) == []
    assert Hub.seen[-1] == (f"/api/models/{PUBLIC}", None)


def test_an_unreachable_hub_gives_a_warning(own_emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = trainpod.Trainpod(**settings(own_emu, tmp_path), hub_url=closed_port_url())
    plan = tp.plan(spec("unreachable-1", model=PUBLIC))
    [warning] = model_warnings(plan)
    assert "was not checked" in warning
    assert "could not be reached" in warning


def test_a_gated_model_needs_a_granted_token_in_pod_env(
    own_emu: Emulator, tmp_path: pathlib.Path, hub: str
) -> None:
    anonymous = trainpod.AsyncTrainpod(**settings(own_emu, tmp_path), hub_url=hub)
    with pytest.raises(trainpod.InvalidInputError, match="gated") as raised:
        asyncio.run(anonymous.plan(spec("gated-1", model=GATED)))
    assert f"{hub}/{GATED}" in str(raised.value), "links the model's terms"
    granted = trainpod.AsyncTrainpod(
        **settings(own_emu, tmp_path), hub_url=hub, pod_env={"HF_TOKEN": GRANTED}
    )
    plan = asyncio.run(granted.plan(spec("gated-2", model=GATED)))
    assert model_warnings(plan) == []
    assert (f"/api/models/{GATED}/auth-check", f"Bearer {GRANTED}") in Hub.seen
    assert GRANTED not in repr(granted)


def test_hub_url_is_checked_when_built(own_emu: Emulator, tmp_path: pathlib.Path) -> None:
    with pytest.raises(trainpod.InvalidInputError, match="hub_url"):
        trainpod.Trainpod(**settings(own_emu, tmp_path), hub_url="http://hub.example.com")
