"""The shared golden vectors, and an independent re-implementation of the tag with only the
standard library, following docs/token-format.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from typing import Any

import pytest
import trainpod
from conftest import fixture

VECTORS = fixture("token-vectors.json")
CONFIG = VECTORS["config"]


def tokens(now: int) -> trainpod.Tokens:
    return trainpod.Tokens(
        CONFIG["keys"],
        CONFIG["audience"],
        issuer=CONFIG["issuer"],
        leeway_secs=CONFIG["leeway_secs"],
        now=now,
    )


def names(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


@pytest.mark.parametrize("case", VECTORS["issue"], ids=names(VECTORS["issue"]))
def test_issue(case: dict[str, Any]) -> None:
    r = case["request"]
    kwargs = {k: r[k] for k in ("dataset", "resource", "ttl_secs", "epoch", "jti")}

    def call() -> trainpod.IssuedToken:
        return tokens(case["now"]).issue(
            r["purpose"],
            r["user"],
            r["job"],
            not_before_delay_secs=r["not_before_delay_secs"],
            once=r["once"],
            **kwargs,
        )

    if "error" in case:
        with pytest.raises(trainpod.TrainpodError) as info:
            call()
        assert info.value.code == case["error"]
    else:
        issued = call()
        assert issued.token == case["token"]
        assert issued.claims.to_dict() == case["claims"]


def verify(case: dict[str, Any]) -> trainpod.Claims:
    e = case["expect"]
    t = tokens(case["now"])
    return t.verify(case["token"], e["purpose"], job=e["job"], dataset=e["dataset"], user=e["user"])


@pytest.mark.parametrize("case", VECTORS["verify"], ids=names(VECTORS["verify"]))
def test_verify(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(trainpod.TokenError) as info:
            verify(case)
        assert info.value.code == case["error"]
    else:
        assert verify(case).to_dict() == case["claims"]


@pytest.mark.parametrize("case", VECTORS["redeem"], ids=names(VECTORS["redeem"]))
def test_redeem(case: dict[str, Any]) -> None:
    store = trainpod.Store.open("memory:")
    t, e = tokens(case["now"]), case["expect"]
    results = []
    for _ in range(case["attempts"]):
        try:
            t.verify_and_redeem(
                case["token"], e["purpose"], store, job=e["job"], dataset=e["dataset"]
            )
            results.append("ok")
        except trainpod.TrainpodError as err:
            results.append(err.code)
    assert results == case["results"]


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pae(pieces: list[bytes]) -> bytes:
    out = struct.pack("<Q", len(pieces))
    for p in pieces:
        out += struct.pack("<Q", len(p)) + p
    return out


def hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_the_format_document_reproduces_every_valid_signature() -> None:
    secrets = {}
    for entry in CONFIG["keys"].split(","):
        kid, _status, secret = entry.split(":")
        secrets[kid] = b64url_decode(secret)
    checked = 0
    for case in VECTORS["issue"] + VECTORS["verify"]:
        if "error" in case:
            continue
        version, kid, payload_b64, tag_b64 = case["token"].split(".")
        assert version == "v1"
        payload = b64url_decode(payload_b64)
        purpose = case.get("request", case.get("expect"))["purpose"]
        key = hkdf_sha256(secrets[kid], b"trainpod/v1/" + purpose.encode())
        mac_input = pae([b"trainpod/token/v1", purpose.encode(), kid.encode(), payload])
        tag = hmac.new(key, mac_input, hashlib.sha256).digest()
        assert base64.urlsafe_b64encode(tag).rstrip(b"=").decode() == tag_b64, case["name"]
        checked += 1
    assert checked >= 10
