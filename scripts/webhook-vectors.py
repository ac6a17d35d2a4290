"""Writes tests/fixtures/webhook-vectors.json with Python's standard library only, independent of
trainpod's code: Standard Webhooks v1, HMAC-SHA256 over "<id>.<timestamp>.<body>", base64.

usage: python3 scripts/webhook-vectors.py > tests/fixtures/webhook-vectors.json
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from typing import Any


def sig(secret: str, msg_id: str, ts: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body.encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


SPEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the secret of the specification's example
A = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
B = "whsec_" + base64.b64encode(bytes(range(101, 133))).decode()
DATA = {
    "job_id": "job-1",
    "user": "user-1",
    "attempt": 1,
    "state": "succeeded",
    "reason": "",
    "cause": "",
    "stage": "done",
    "exit_code": 0,
    "pod_id": "pod-abc",
    "gpu_id": "NVIDIA A40",
    "cost_usd": 0.4,
    "budget_usd": 2.0,
    "ended_by": "pod",
}
EVENT = json.dumps(
    {"type": "job.succeeded", "timestamp": "2030-03-17T17:46:40Z", "data": DATA},
    separators=(",", ":"),
)
NOW = 1900000000
ID = "msg_0123456789abcdef0123456789abcdef"
GOOD = sig(A, ID, NOW, EVENT)


def signing(name: str, secret: str, msg_id: str, ts: int, body: str) -> dict[str, Any]:
    signature = sig(secret, msg_id, ts, body)
    return {
        "name": name,
        "secret": secret,
        "id": msg_id,
        "timestamp": ts,
        "body": body,
        "signature": signature,
    }


def case(
    name: str,
    expect: str,
    secrets: tuple[str, ...] = (A,),
    headers: dict[str, str | None] | None = None,
    body: str = EVENT,
    now: int = NOW,
) -> dict[str, Any]:
    h: dict[str, str | None] = {
        "webhook-id": ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": GOOD,
    }
    h.update(headers or {})
    return {
        "name": name,
        "secrets": list(secrets),
        "headers": {k: v for k, v in h.items() if v is not None},
        "body": body,
        "now": now,
        "tolerance_secs": 300,
        "expect": expect,
    }


SIGN = [
    signing(
        "the specification's example",
        SPEC,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    ),
    signing("a trainpod event", A, ID, NOW, EVENT),
    signing("a body with non-ASCII text", B, "msg_unicode", NOW, '{"cause":"épuisé — ☃"}'),
    signing("an empty body", A, "msg_empty", 0, ""),
]
ROTATION = {
    "name": "a rotation signs with every secret, in order",
    "secrets": [B, A],
    "id": "msg_rotation",
    "timestamp": NOW,
    "body": EVENT,
    "signature": sig(B, "msg_rotation", NOW, EVENT) + " " + sig(A, "msg_rotation", NOW, EVENT),
}
VERIFY = [
    case("a valid delivery", "ok"),
    case("header names in any case", "ok", headers={"webhook-id": None, "Webhook-Id": ID}),
    case("the receiver holds the old and the new secret", "ok", secrets=(B, A)),
    case(
        "one of several signatures matches (a sender mid-rotation)",
        "ok",
        headers={"webhook-signature": sig(B, ID, NOW, EVENT) + " " + GOOD},
    ),
    case(
        "a signature of another scheme version is skipped",
        "ok",
        headers={"webhook-signature": "v1a,AAAA " + GOOD},
    ),
    case("the timestamp is at the tolerance's edge (old)", "ok", now=NOW + 300),
    case("the timestamp is at the tolerance's edge (ahead)", "ok", now=NOW - 300),
    case(
        "the timestamp is past the tolerance (old)", "WEBHOOK_TIMESTAMP_OUT_OF_RANGE", now=NOW + 301
    ),
    case(
        "the timestamp is past the tolerance (ahead)",
        "WEBHOOK_TIMESTAMP_OUT_OF_RANGE",
        now=NOW - 301,
    ),
    case("the body was changed", "WEBHOOK_SIGNATURE_INVALID", body=EVENT.replace("0.4", "0.5")),
    case("the id was changed", "WEBHOOK_SIGNATURE_INVALID", headers={"webhook-id": "msg_other"}),
    case(
        "the timestamp was changed",
        "WEBHOOK_SIGNATURE_INVALID",
        headers={"webhook-timestamp": str(NOW + 1)},
    ),
    case("signed with another secret", "WEBHOOK_SIGNATURE_INVALID", secrets=(B,)),
    case("no webhook-id header", "WEBHOOK_MALFORMED", headers={"webhook-id": None}),
    case("no webhook-signature header", "WEBHOOK_MALFORMED", headers={"webhook-signature": None}),
    case("no webhook-timestamp header", "WEBHOOK_MALFORMED", headers={"webhook-timestamp": None}),
    case(
        "a timestamp that is not whole seconds",
        "WEBHOOK_MALFORMED",
        headers={"webhook-timestamp": "1900000000.5"},
    ),
    case("no v1 signature", "WEBHOOK_MALFORMED", headers={"webhook-signature": "v2,abcd"}),
]

DESCRIPTION = (
    "Standard Webhooks v1 signatures and verification, run by the Rust, Python and Node suites. "
    "Written by `python3 scripts/webhook-vectors.py` with Python's hmac and base64 modules."
)
json.dump(
    {
        "description": DESCRIPTION,
        "sign": SIGN,
        "rotation": ROTATION,
        "verify": VERIFY,
    },
    sys.stdout,
    indent=2,
    ensure_ascii=False,
)
print()
