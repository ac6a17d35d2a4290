"""Tokens through the binding: round trips, refusals, redaction, single use on every store."""

from __future__ import annotations

import asyncio
import pathlib
import pickle

import pytest
import trainpod

NOW = 1_767_225_600
AUD = "https://app.example.com"
SECRET = trainpod.generate_secret()


def make() -> trainpod.Tokens:
    return trainpod.Tokens(f"k1:active:{SECRET}", AUD, now=NOW)


def dataset_token(t: trainpod.Tokens) -> str:
    return t.issue("dataset.read", "user-1", "job-1", dataset="ds-1", once=True).token


def test_round_trip_and_tamper() -> None:
    t = make()
    token = dataset_token(t)
    claims = t.verify(token, "dataset.read", job="job-1", dataset="ds-1", user="user-1")
    assert (claims.job, claims.ds, claims.once) == ("job-1", "ds-1", True)
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(trainpod.TokenSignatureInvalidError):
        t.verify(tampered, "dataset.read")
    with pytest.raises(trainpod.TokenError) as info:
        t.verify(token, "metrics.write")
    assert info.value.code == "TOKEN_WRONG_PURPOSE"
    header = f"Bearer {token}"
    assert t.verify_authorization(header, "dataset.read").jti == claims.jti
    with pytest.raises(trainpod.TokenError) as info:
        t.verify_authorization(None, "dataset.read")
    assert info.value.code == "TOKEN_MISSING"


def test_expiry_follows_the_fixed_clock() -> None:
    t = make()
    token = t.issue("metrics.write", "user-1", "job-1", ttl_secs=100).token
    t.set_now(NOW + 159)
    t.verify(token, "metrics.write")
    t.set_now(NOW + 160)
    with pytest.raises(trainpod.TokenExpiredError):
        t.verify(token, "metrics.write")
    system = trainpod.Tokens(f"k1:active:{SECRET}", AUD)
    with pytest.raises(trainpod.InvalidInputError):
        system.set_now(NOW)


def test_secrets_and_tokens_stay_out_of_reprs() -> None:
    t = make()
    issued = t.issue("dataset.read", "user-1", "job-1", dataset="ds-1")
    shown = f"{t!r} {t} {issued!r} {issued}"
    assert SECRET not in shown
    assert issued.token not in shown
    assert "<redacted>" in repr(issued)
    assert "ds='ds-1'" in repr(issued.claims)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_single_use_sync_and_async(
    backend: str, tmp_path: pathlib.Path, request: pytest.FixtureRequest
) -> None:
    urls = {"memory": "memory:", "sqlite": f"sqlite://{tmp_path}/ledger.db"}
    url = urls.get(backend) or request.getfixturevalue("postgres_url")
    store = trainpod.Store.open(url)
    assert store.backend == backend
    t = make()
    token = dataset_token(t)
    t.verify_and_redeem(token, "dataset.read", store, job="job-1")
    with pytest.raises(trainpod.TokenAlreadyUsedError):
        t.verify_and_redeem(token, "dataset.read", store, job="job-1")

    async def twice() -> list[str]:
        s = await trainpod.Store.open_async(url)
        fresh = dataset_token(t)
        outcomes = await asyncio.gather(
            *(t.verify_and_redeem_async(fresh, "dataset.read", s) for _ in range(10)),
            return_exceptions=True,
        )
        return sorted(o.code if isinstance(o, trainpod.TrainpodError) else "ok" for o in outcomes)

    results = asyncio.run(twice())
    assert results == ["TOKEN_ALREADY_USED"] * 9 + ["ok"]


HOSTILE_ISSUE: list[dict[str, object]] = [
    {"ttl_secs": -1},
    {"ttl_secs": 2**70},
    {"epoch": 2**32},
    {"epoch": -1},
    {"not_before_delay_secs": -5},
    {"jti": "not-a-uuid"},
    {"dataset": "has space"},
    {"dataset": "nul\x00byte"},
    {"dataset": "\ud800"},
]


@pytest.mark.parametrize("kwargs", HOSTILE_ISSUE, ids=[str(k) for k in HOSTILE_ISSUE])
def test_hostile_issue_arguments_raise_typed_errors(kwargs: dict[str, object]) -> None:
    t = make()
    with pytest.raises((trainpod.InvalidInputError, UnicodeEncodeError)):
        t.issue("dataset.read", "user-1", "job-1", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    ["", "x" * 1_000_000, "v1." * 1000, "\x00", "v1.k1.\ud800.x", "v1.k1..", "💥" * 100],
)
def test_hostile_tokens_are_refused_without_panics(token: str) -> None:
    t = make()
    with pytest.raises((trainpod.TokenError, UnicodeEncodeError)):
        t.verify(token, "dataset.read")


def test_wrong_types_raise_type_error_not_panics() -> None:
    t = make()
    for bad in (None, 5, b"bytes", object()):
        with pytest.raises(TypeError):
            t.verify(bad, "dataset.read")  # type: ignore[arg-type]
    with pytest.raises(trainpod.InvalidInputError):
        t.verify("v1.a.b.c", "dataset.delete")
    with pytest.raises(trainpod.InvalidInputError):
        trainpod.Tokens(f"k1:active:{SECRET}", AUD, leeway_secs=-1)
    with pytest.raises(trainpod.InvalidInputError):
        trainpod.Store.open("mysql://nope")


def test_claims_compare_and_exceptions_survive_pickling_after_a_real_failure() -> None:
    t = make()
    token = dataset_token(t)
    assert t.verify(token, "dataset.read") == t.verify(token, "dataset.read")
    with pytest.raises(trainpod.TokenError) as info:
        t.verify(token + "x", "dataset.read")
    back = pickle.loads(pickle.dumps(info.value))
    assert (type(back), back.code) == (type(info.value), info.value.code)
