"""Job events as signed webhooks: jobs run on the RunPod emulator, and a real HTTP server on
loopback, the app's webhook route, checks every delivery with the reference Standard Webhooks
package (``standardwebhooks`` from PyPI), not with trainpod. trainpod's own ``verify_webhook``
then reads the same deliveries."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import standardwebhooks
import trainpod
from sdk_helpers import batch, event, settings, spec
from trainpod.testing import Emulator


class Receiver:
    """An app's webhook route: 204 when the delivery verifies with the reference verifier under
    every secret it is given (one receiver per secret, in effect), else 400."""

    def __init__(self, *secrets: str) -> None:
        self.verifiers = [standardwebhooks.Webhook(s) for s in secrets]
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.refused: list[str] = []
        receiver = self

        class Route(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                # Names as sent (lowercase from trainpod), looked up in any case by both verifiers.
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    for verifier in receiver.verifiers:
                        verifier.verify(body, headers)
                except standardwebhooks.webhooks.WebhookVerificationError as err:
                    receiver.refused.append(str(err))
                    self.send_response(400)
                else:
                    receiver.got.append((headers, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Route)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def secret() -> str:
    return trainpod.generate_webhook_secret()


@pytest.fixture
def receiver(secret: str) -> Iterator[Receiver]:
    r = Receiver(secret)
    yield r
    r.close()


def hooked(
    emu: Emulator, root: pathlib.Path, url: str, secrets: Any, **extra: Any
) -> dict[str, Any]:
    """The emulator's settings with webhooks, and a clock fixed at the real time: the reference
    verifier checks each delivery's timestamp against this machine's clock."""
    return {**settings(emu, root), "webhook_url": url, "webhook_secrets": secrets, **extra}


def steps(now: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A pod's training batch and its final one, stamped from `now`."""
    training = [
        event(1, now + 1, "stage", stage="dataset"),
        event(2, now + 2, "log", source="trainer", data={"step": 1, "max_steps": 2, "loss": 2.0}),
    ]
    final = [event(3, now + 3, "final", stage="done", data={"status": "succeeded", "exit_code": 0})]
    return training, final


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_each_change_of_a_job_reaches_the_app_signed(
    emu: Emulator, tmp_path: pathlib.Path, receiver: Receiver, secret: str, backend: str
) -> None:
    now = int(time.time())
    store = {"memory": "memory:", "sqlite": f"sqlite://{tmp_path}/jobs.db"}[backend]
    tp = trainpod.Trainpod(**hooked(emu, tmp_path, receiver.url, secret, now=now, store=store))
    run = f"run-{uuid.uuid4().hex[:8]}"
    tp.deploy(tp.plan(spec(run)))
    for n, events in enumerate(steps(now), start=1):
        tp.ingest_metrics(run, *batch(tp, run, 1, n, events))
    stop = f"stop-{uuid.uuid4().hex[:8]}"
    tp.deploy(tp.plan(spec(stop)))
    tp.cancel(stop)
    report = tp.deliver_webhooks()
    assert (report.delivered, report.retrying, report.failed) == (5, 0, 0)
    assert all(d.outcome == "delivered" and d.status == 204 for d in report.deliveries)
    # A job whose pod RunPod removed is ended by reconcile, which sends its events at the end.
    lost = f"lost-{uuid.uuid4().hex[:8]}"
    pod = tp.deploy(tp.plan(spec(lost))).pod_id
    assert pod is not None
    emu.vanish(pod, cause="host")
    tp.set_now(now + 90)
    assert ("pod_vanished", "failed") in {(a.reason, a.job_state) for a in tp.reconcile()}

    assert receiver.refused == []
    # Deliveries of one pass are sent at once: they arrive in any order.
    seen = sorted(
        (e["data"]["job_id"], e["type"], e["data"]["ended_by"] or "") for e in receiver.events()
    )
    assert seen == sorted(
        [
            (run, "job.deployed", ""),
            (run, "job.training_started", ""),
            (run, "job.succeeded", "pod"),
            (stop, "job.deployed", ""),
            (stop, "job.cancelled", "request"),
            (lost, "job.deployed", ""),
            (lost, "job.failed", "reconciler"),
        ]
    )
    ids = [h["webhook-id"] for h, _ in receiver.got]
    assert len(set(ids)) == 7 and all(i.startswith("msg_") for i in ids)
    done = next(e for e in receiver.events() if e["type"] == "job.succeeded")
    assert done["data"]["user"] == "user-1" and done["data"]["state"] == "succeeded"
    assert done["data"]["exit_code"] == 0 and done["data"]["pod_id"]
    ended = next(e for e in receiver.events() if e["type"] == "job.failed")
    assert ended["data"]["reason"] == "pod_vanished"
    # trainpod's own helper reads the same deliveries as the reference did.
    for headers, body in receiver.got:
        ev = trainpod.verify_webhook(secret, headers, body)
        assert isinstance(ev, trainpod.WebhookEvent)
        assert dataclasses.asdict(ev) == json.loads(body)
    assert tp.deliver_webhooks().delivered == 0, "each event is delivered once"


def test_a_rotated_secret_is_verified_by_receivers_of_either(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    old, new = trainpod.generate_webhook_secret(), trainpod.generate_webhook_secret()
    both = Receiver(new, old)  # verifies under each secret on its own: either receiver takes it

    async def main() -> trainpod.WebhookReport:
        tp = trainpod.AsyncTrainpod(
            **hooked(emu, tmp_path, both.url, [new, old], now=int(time.time()))
        )
        await tp.deploy(await tp.plan(spec("rotate")))
        await tp.cancel("rotate")
        return await tp.deliver_webhooks()

    try:
        report = asyncio.run(main())
    finally:
        both.close()
    assert report.delivered == 2 and both.refused == []
    # The two deliveries go out at once and may arrive in either order.
    headers, body = next((h, b) for h, b in both.got if json.loads(b)["type"] == "job.cancelled")
    assert len(headers["webhook-signature"].split(" ")) == 2
    for held in ([old], new, [new, old]):
        assert trainpod.verify_webhook(held, headers, body).type == "job.cancelled"


def test_verify_webhook_refuses_with_typed_errors(
    emu: Emulator, tmp_path: pathlib.Path, receiver: Receiver, secret: str
) -> None:
    tp = trainpod.Trainpod(**hooked(emu, tmp_path, receiver.url, secret, now=int(time.time())))
    tp.deploy(tp.plan(spec("refused")))
    tp.deliver_webhooks()
    headers, body = receiver.got[0]
    sent = int(headers["webhook-timestamp"])
    other = trainpod.generate_webhook_secret()
    with pytest.raises(trainpod.WebhookSignatureInvalidError) as info:
        trainpod.verify_webhook(other, headers, body)
    assert info.value.code == "WEBHOOK_SIGNATURE_INVALID"
    assert trainpod.http_status(info.value.code) == 401
    with pytest.raises(trainpod.WebhookSignatureInvalidError):
        trainpod.verify_webhook(secret, headers, body.replace(b"refused", b"accepted"))
    with pytest.raises(trainpod.WebhookTimestampOutOfRangeError):
        trainpod.verify_webhook(secret, headers, body, now=sent + 301)
    assert trainpod.verify_webhook(secret, headers, body, now=sent + 301, tolerance_secs=600)
    partial = {k: v for k, v in headers.items() if k.lower() != "webhook-signature"}
    with pytest.raises(trainpod.WebhookMalformedError) as malformed:
        trainpod.verify_webhook(secret, partial, body)
    assert isinstance(malformed.value, trainpod.WebhookError)
    with pytest.raises(trainpod.InvalidInputError) as bad:
        trainpod.verify_webhook("whsec_c2hvcnQ=", headers, body)
    assert "c2hvcnQ" not in str(bad.value)


def test_webhook_settings_are_checked_when_built(
    emu: Emulator, tmp_path: pathlib.Path, secret: str
) -> None:
    refused: list[dict[str, object]] = [
        {"webhook_url": "http://127.0.0.1:9/hooks"},
        {"webhook_secrets": [secret]},
        {"webhook_url": "http://app.example.com/hooks", "webhook_secrets": secret},
        {"webhook_url": "https://app.example.com/hooks", "webhook_secrets": ["whsec_c2hvcnQ="]},
    ]
    for extra in refused:
        with pytest.raises(trainpod.InvalidInputError) as info:
            trainpod.Trainpod(**{**settings(emu, tmp_path), **extra})
        assert secret[6:] not in str(info.value)
    with pytest.raises(trainpod.InvalidInputError):
        trainpod.Trainpod(**settings(emu, tmp_path)).deliver_webhooks()
    assert standardwebhooks.Webhook(secret), "the reference takes trainpod's secrets"
