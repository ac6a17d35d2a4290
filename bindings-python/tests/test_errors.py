"""Every core error code maps to its own exception class, and exceptions pickle."""

from __future__ import annotations

import pickle

import pytest
import trainpod
from trainpod import exceptions

VALUE_ERRORS = {"INVALID_INPUT", "DATASET_INVALID", "URL_UNREACHABLE_FROM_POD"}


def test_every_code_has_its_own_class() -> None:
    codes = trainpod.error_codes()
    assert len(codes) == len(set(codes)) >= 30
    classes = [exceptions.ERRORS_BY_CODE[code] for code in codes]
    assert len(set(classes)) == len(codes), "two codes share a class"
    assert set(exceptions.ERRORS_BY_CODE) == set(codes), "Python knows codes the core does not"
    for code, cls in zip(codes, classes, strict=True):
        assert issubclass(cls, trainpod.TrainpodError)
        assert cls.default_code == code
        assert issubclass(cls, ValueError) == (code in VALUE_ERRORS), code
        if code.startswith("TOKEN_"):
            assert issubclass(cls, trainpod.TokenError)


@pytest.mark.parametrize("code", trainpod.error_codes())
def test_exceptions_pickle_with_their_fields(code: str) -> None:
    cls = exceptions.ERRORS_BY_CODE[code]
    err = cls("what to do next", code=code, status=429, request_id="req-1", retry_after=3)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.code, back.status, back.request_id, back.retry_after, back.message) == (
        code,
        429,
        "req-1",
        3,
        "what to do next",
    )
    assert str(back) == f"{code}: what to do next"


def test_a_real_error_from_rust_carries_code_and_fields() -> None:
    with pytest.raises(trainpod.InvalidInputError) as info:
        trainpod.Tokens("k1:primary:abc", "https://app.example.com")
    err = info.value
    assert err.code == "INVALID_INPUT"
    assert isinstance(err, ValueError)
    assert err.retryable is False
    assert err.status is None


def test_store_errors_are_retryable_and_chain_their_cause() -> None:
    with pytest.raises(trainpod.StoreError) as info:
        trainpod.Store.open("sqlite:///nonexistent-dir/a/b/c.db")
    assert info.value.code == "STORE_UNAVAILABLE"
    assert info.value.retryable is True
    assert info.value.__cause__ is not None


def test_every_core_code_is_raised_as_a_class_of_its_group() -> None:
    # The groups are the core's (`ErrorKind::group`), written into exceptions.py by the
    # generator: every code the native module knows is in exactly one, under its class.
    grouped = [code for codes in exceptions.ERROR_GROUPS.values() for code in codes]
    assert sorted(grouped) == sorted(trainpod.error_codes()), "exceptions.py is stale"
    for group, codes in exceptions.ERROR_GROUPS.items():
        assert group.__base__ is trainpod.TrainpodError, group
        for code in codes:
            cls = exceptions.ERRORS_BY_CODE[code]
            assert issubclass(cls, group), (code, group)
            others = [g for g in exceptions.ERROR_GROUPS if g is not group and issubclass(cls, g)]
            assert not others, (code, others)
    assert issubclass(exceptions.DatasetInvalidError, trainpod.InvalidInputError)
    assert issubclass(exceptions.DatasetNotFoundError, exceptions.DatasetError)
    assert exceptions.ERRORS_BY_CODE["SEQUENCE_CONFLICT"] is trainpod.SequenceConflictError
