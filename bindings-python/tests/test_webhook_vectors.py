"""The shared webhook vectors (tests/fixtures/webhook-vectors.json): each signature is the
reference package's (``standardwebhooks``), and ``verify_webhook`` gives each case its code."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import standardwebhooks
import trainpod
from conftest import fixture

VECTORS = fixture("webhook-vectors.json")


def names(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


@pytest.mark.parametrize("case", VECTORS["sign"], ids=names(VECTORS["sign"]))
def test_sign(case: dict[str, Any]) -> None:
    when = datetime.fromtimestamp(case["timestamp"], tz=timezone.utc)
    signed = standardwebhooks.Webhook(case["secret"]).sign(case["id"], when, case["body"])
    assert signed == case["signature"]
    headers = {
        "webhook-id": case["id"],
        "webhook-timestamp": str(case["timestamp"]),
        "webhook-signature": case["signature"],
    }
    # trainpod checks the signature first: a body that is no trainpod event passes it and is
    # refused as malformed after.
    try:
        trainpod.verify_webhook(case["secret"], headers, case["body"], now=case["timestamp"])
    except trainpod.WebhookMalformedError as err:
        assert "not a trainpod event" in err.message


def test_rotation() -> None:
    r = VECTORS["rotation"]
    when = datetime.fromtimestamp(r["timestamp"], tz=timezone.utc)
    signed = [standardwebhooks.Webhook(s).sign(r["id"], when, r["body"]) for s in r["secrets"]]
    assert " ".join(signed) == r["signature"]


@pytest.mark.parametrize("case", VECTORS["verify"], ids=names(VECTORS["verify"]))
def test_verify(case: dict[str, Any]) -> None:
    def call() -> trainpod.WebhookEvent:
        return trainpod.verify_webhook(
            case["secrets"],
            case["headers"],
            case["body"].encode(),
            now=case["now"],
            tolerance_secs=case["tolerance_secs"],
        )

    if case["expect"] == "ok":
        assert call().type == "job.succeeded"
    else:
        with pytest.raises(trainpod.WebhookError) as info:
            call()
        assert info.value.code == case["expect"]
