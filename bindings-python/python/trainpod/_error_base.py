"""The root of trainpod's exceptions. :mod:`trainpod.exceptions` (generated from the core's error
kinds) adds a class per group of codes and one per code beneath it."""

from __future__ import annotations

from typing import Any


def _rebuild(
    cls: type[TrainpodError],
    message: str,
    code: str,
    status: int | None,
    request_id: str | None,
    retry_after: int | None,
    retryable: bool,
) -> TrainpodError:
    return cls(
        message,
        code=code,
        status=status,
        request_id=request_id,
        retry_after=retry_after,
        retryable=retryable,
    )


class TrainpodError(Exception):
    """Any trainpod failure. ``code`` is stable across versions and languages."""

    default_code = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.message, self.code, self.status, self.request_id, self.retry_after)
        return (_rebuild, (type(self), *args, self.retryable))
