"""One exception hierarchy for every trainpod failure, rooted in :class:`TrainpodError`.

Each error code of the core has its own class. Every exception carries ``code``, ``message``,
``status`` and ``request_id`` (of the upstream response, where there was one), ``retry_after``
(seconds) and ``retryable``, and pickles with all of them.
"""

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


class InvalidInputError(TrainpodError, ValueError):
    """An argument or configuration value is invalid; the message names the valid range."""

    default_code = "INVALID_INPUT"


class TokenError(TrainpodError):
    """A token was refused. Answer 401 or 403; the code is for logs."""


class TokenMalformedError(TokenError):
    default_code = "TOKEN_MALFORMED"


class TokenUnsupportedVersionError(TokenError):
    default_code = "TOKEN_UNSUPPORTED_VERSION"


class TokenUnknownKeyError(TokenError):
    default_code = "TOKEN_UNKNOWN_KEY"


class TokenKeyRetiredError(TokenError):
    default_code = "TOKEN_KEY_RETIRED"


class TokenSignatureInvalidError(TokenError):
    default_code = "TOKEN_SIGNATURE_INVALID"


class TokenWrongPurposeError(TokenError):
    default_code = "TOKEN_WRONG_PURPOSE"


class TokenWrongAudienceError(TokenError):
    default_code = "TOKEN_WRONG_AUDIENCE"


class TokenWrongIssuerError(TokenError):
    default_code = "TOKEN_WRONG_ISSUER"


class TokenScopeMismatchError(TokenError):
    default_code = "TOKEN_SCOPE_MISMATCH"


class TokenExpiredError(TokenError):
    default_code = "TOKEN_EXPIRED"


class TokenNotYetValidError(TokenError):
    default_code = "TOKEN_NOT_YET_VALID"


class TokenLifetimeExceededError(TokenError):
    default_code = "TOKEN_LIFETIME_EXCEEDED"


class TokenAlreadyUsedError(TokenError):
    default_code = "TOKEN_ALREADY_USED"


class TokenMissingError(TokenError):
    default_code = "TOKEN_MISSING"


class SequenceConflictError(TrainpodError):
    """A metric batch reused a sequence number with a different body, or sent a new number far
    outside the attempt's window of numbers."""

    default_code = "SEQUENCE_CONFLICT"


class StoreError(TrainpodError):
    """The store (SQLite or Postgres) failed."""


class StoreUnavailableError(StoreError):
    default_code = "STORE_UNAVAILABLE"


class StoreSchemaError(StoreError):
    default_code = "STORE_SCHEMA"


class ApiError(TrainpodError):
    """The RunPod API refused or failed a request."""


class AuthInvalidError(ApiError):
    default_code = "AUTH_INVALID"


class InsufficientBalanceError(ApiError):
    default_code = "INSUFFICIENT_BALANCE"


class ForbiddenError(ApiError):
    default_code = "FORBIDDEN"


class NotFoundError(ApiError):
    default_code = "NOT_FOUND"


class InvalidStateError(ApiError):
    default_code = "INVALID_STATE"


class CapacityUnavailableError(ApiError):
    default_code = "CAPACITY_UNAVAILABLE"


class RateLimitedError(ApiError):
    default_code = "RATE_LIMITED"


class ServerError(ApiError):
    default_code = "SERVER_ERROR"


class TransportError(ApiError):
    default_code = "TRANSPORT"


class RequestTimeoutError(ApiError, TimeoutError):
    default_code = "TIMEOUT"


class DatasetInvalidError(TrainpodError, ValueError):
    """The dataset failed validation; the message lists the first bad lines."""

    default_code = "DATASET_INVALID"


class UrlUnreachableFromPodError(TrainpodError, ValueError):
    """A URL the pod must reach is not reachable from a pod; the message names the fixes."""

    default_code = "URL_UNREACHABLE_FROM_POD"


class DatasetNotFoundError(TrainpodError, LookupError):
    """No dataset with this id is staged (never was, or was deleted after its URL was issued)."""

    default_code = "DATASET_NOT_FOUND"


class DatasetPathUnsafeError(TrainpodError, PermissionError):
    """The dataset's file is a symlink, hard link, special file or another mount: refused."""

    default_code = "DATASET_PATH_UNSAFE"


class InternalError(TrainpodError):
    """A bug in trainpod."""

    default_code = "INTERNAL"


def _leaves() -> list[type[TrainpodError]]:
    found: list[type[TrainpodError]] = []
    pending: list[type[TrainpodError]] = [TrainpodError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "default_code" in cls.__dict__ and cls is not TrainpodError:
            found.append(cls)
    return found


#: The class raised for each error code.
ERRORS_BY_CODE: dict[str, type[TrainpodError]] = {cls.default_code: cls for cls in _leaves()}
