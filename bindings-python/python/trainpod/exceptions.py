# Generated from core's types by
# `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.
"""One exception hierarchy for every trainpod failure, rooted in :class:`TrainpodError`.

Each error code of the core has its own class, under the class of its group (``TokenError``,
``ApiError``, ...). Every exception carries ``code``, ``message``, ``status`` and
``request_id`` (of the upstream response, where there was one), ``retry_after`` (seconds)
and ``retryable``, and pickles with all of them.
"""

from __future__ import annotations

from trainpod._error_base import TrainpodError as TrainpodError
from trainpod._error_base import _rebuild as _rebuild


class InvalidInputError(TrainpodError, ValueError):
    """An argument, a dataset or a URL is invalid: the message names it and what is accepted."""

    default_code = "INVALID_INPUT"


class DatasetInvalidError(InvalidInputError):
    """The dataset failed validation."""

    default_code = "DATASET_INVALID"


class UrlUnreachableFromPodError(InvalidInputError):
    """A URL the pod must reach is not reachable from a pod."""

    default_code = "URL_UNREACHABLE_FROM_POD"


class TokenError(TrainpodError):
    """A token was refused: answer 401 or 403; the code is for logs."""


class TokenMalformedError(TokenError):
    """The token is not a well-formed trainpod token (size, shape, encoding or JSON)."""

    default_code = "TOKEN_MALFORMED"


class TokenUnsupportedVersionError(TokenError):
    """The token's version prefix is not one this build verifies."""

    default_code = "TOKEN_UNSUPPORTED_VERSION"


class TokenUnknownKeyError(TokenError):
    """The token names a signing key id that the key ring does not hold."""

    default_code = "TOKEN_UNKNOWN_KEY"


class TokenKeyRetiredError(TokenError):
    """The token was signed with a key that has been retired."""

    default_code = "TOKEN_KEY_RETIRED"


class TokenSignatureInvalidError(TokenError):
    """The token's signature does not match: it was altered or signed with another key."""

    default_code = "TOKEN_SIGNATURE_INVALID"


class TokenWrongPurposeError(TokenError):
    """The token is authentic but was issued for another purpose."""

    default_code = "TOKEN_WRONG_PURPOSE"


class TokenWrongAudienceError(TokenError):
    """The token is authentic but was issued for another audience (app origin)."""

    default_code = "TOKEN_WRONG_AUDIENCE"


class TokenWrongIssuerError(TokenError):
    """The token is authentic but was issued by another issuer."""

    default_code = "TOKEN_WRONG_ISSUER"


class TokenScopeMismatchError(TokenError):
    """The token is authentic but names another job, dataset or user than the request."""

    default_code = "TOKEN_SCOPE_MISMATCH"


class TokenExpiredError(TokenError):
    """The token's expiry has passed."""

    default_code = "TOKEN_EXPIRED"


class TokenNotYetValidError(TokenError):
    """The token's not-before time has not come yet."""

    default_code = "TOKEN_NOT_YET_VALID"


class TokenLifetimeExceededError(TokenError):
    """The token's lifetime exceeds the cap for its purpose."""

    default_code = "TOKEN_LIFETIME_EXCEEDED"


class TokenAlreadyUsedError(TokenError):
    """A single-use token was presented a second time."""

    default_code = "TOKEN_ALREADY_USED"


class TokenMissingError(TokenError):
    """The route requires a token and the request carried none."""

    default_code = "TOKEN_MISSING"


class SequenceConflictError(TrainpodError):
    """A metric batch conflicts with one already received under its sequence number."""

    default_code = "SEQUENCE_CONFLICT"


class StoreError(TrainpodError):
    """The store (SQLite or Postgres) failed."""


class StoreUnavailableError(StoreError):
    """The store (SQLite or Postgres) failed or could not be reached."""

    default_code = "STORE_UNAVAILABLE"


class StoreSchemaError(StoreError):
    """The store's schema is newer than this build, or a migration failed."""

    default_code = "STORE_SCHEMA"


class ApiError(TrainpodError):
    """RunPod (or an object store) refused or failed a request."""


class AuthInvalidError(ApiError):
    """The RunPod API key, or an object store's access key and secret, is missing or was refused."""

    default_code = "AUTH_INVALID"


class CredentialsUnavailableError(ApiError):
    """The app's credentials resolver failed to give an account's RunPod key (it raised or
    rejected): its secrets store may be down. Retry once it answers."""

    default_code = "CREDENTIALS_UNAVAILABLE"


class InsufficientBalanceError(ApiError):
    """The RunPod account has too little balance for the request."""

    default_code = "INSUFFICIENT_BALANCE"


class ForbiddenError(ApiError):
    """The RunPod API or an object store refused the request for this key (for example a pod key
    acting on another pod, or a storage key without write access to the bucket)."""

    default_code = "FORBIDDEN"


class NotFoundError(ApiError):
    """The requested resource does not exist."""

    default_code = "NOT_FOUND"


class InvalidStateError(ApiError):
    """The action is not valid in the resource's current state."""

    default_code = "INVALID_STATE"


class CapacityUnavailableError(ApiError):
    """No GPU of the requested types is available."""

    default_code = "CAPACITY_UNAVAILABLE"


class RateLimitedError(ApiError):
    """The upstream API asked us to slow down."""

    default_code = "RATE_LIMITED"


class ServerError(ApiError):
    """The upstream API failed on its side."""

    default_code = "SERVER_ERROR"


class TransportError(ApiError):
    """The request did not reach the upstream API or its answer was cut off."""

    default_code = "TRANSPORT"


class RequestTimeoutError(ApiError, TimeoutError):
    """An operation did not finish in time."""

    default_code = "TIMEOUT"


class DatasetError(TrainpodError):
    """A staged dataset cannot be served: it is not there, or its file is not safe to open."""


class DatasetNotFoundError(DatasetError, LookupError):
    """No dataset with this id is staged (never was, or was deleted after its URL was issued)."""

    default_code = "DATASET_NOT_FOUND"


class DatasetPathUnsafeError(DatasetError, PermissionError):
    """The dataset's file is not a plain file beneath the staging root (a symlink, a hard link, a
    directory or device, another mount): it is refused, never opened for reading."""

    default_code = "DATASET_PATH_UNSAFE"


class WebhookError(TrainpodError):
    """A webhook failed verification: answer it with 400 or 401; the code is for logs."""


class WebhookMalformedError(WebhookError):
    """A webhook request lacks a Standard Webhooks header (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``), or one of them, or its body, is not in the form the scheme sends."""

    default_code = "WEBHOOK_MALFORMED"


class WebhookTimestampOutOfRangeError(WebhookError):
    """A webhook's ``webhook-timestamp`` is further from now than the tolerance allows: a replay
    of an old delivery, or a clock far off."""

    default_code = "WEBHOOK_TIMESTAMP_OUT_OF_RANGE"


class WebhookSignatureInvalidError(WebhookError):
    """No signature in a webhook's ``webhook-signature`` matches its id, timestamp and body under
    any of the secrets given: it was altered, or signed with another secret."""

    default_code = "WEBHOOK_SIGNATURE_INVALID"


class InternalError(TrainpodError):
    """A bug in trainpod."""

    default_code = "INTERNAL"


#: The class raised for each error code.
ERRORS_BY_CODE: dict[str, type[TrainpodError]] = {
    "INVALID_INPUT": InvalidInputError,
    "TOKEN_MALFORMED": TokenMalformedError,
    "TOKEN_UNSUPPORTED_VERSION": TokenUnsupportedVersionError,
    "TOKEN_UNKNOWN_KEY": TokenUnknownKeyError,
    "TOKEN_KEY_RETIRED": TokenKeyRetiredError,
    "TOKEN_SIGNATURE_INVALID": TokenSignatureInvalidError,
    "TOKEN_WRONG_PURPOSE": TokenWrongPurposeError,
    "TOKEN_WRONG_AUDIENCE": TokenWrongAudienceError,
    "TOKEN_WRONG_ISSUER": TokenWrongIssuerError,
    "TOKEN_SCOPE_MISMATCH": TokenScopeMismatchError,
    "TOKEN_EXPIRED": TokenExpiredError,
    "TOKEN_NOT_YET_VALID": TokenNotYetValidError,
    "TOKEN_LIFETIME_EXCEEDED": TokenLifetimeExceededError,
    "TOKEN_ALREADY_USED": TokenAlreadyUsedError,
    "TOKEN_MISSING": TokenMissingError,
    "SEQUENCE_CONFLICT": SequenceConflictError,
    "STORE_UNAVAILABLE": StoreUnavailableError,
    "STORE_SCHEMA": StoreSchemaError,
    "AUTH_INVALID": AuthInvalidError,
    "CREDENTIALS_UNAVAILABLE": CredentialsUnavailableError,
    "INSUFFICIENT_BALANCE": InsufficientBalanceError,
    "FORBIDDEN": ForbiddenError,
    "NOT_FOUND": NotFoundError,
    "INVALID_STATE": InvalidStateError,
    "CAPACITY_UNAVAILABLE": CapacityUnavailableError,
    "RATE_LIMITED": RateLimitedError,
    "SERVER_ERROR": ServerError,
    "TRANSPORT": TransportError,
    "TIMEOUT": RequestTimeoutError,
    "DATASET_INVALID": DatasetInvalidError,
    "URL_UNREACHABLE_FROM_POD": UrlUnreachableFromPodError,
    "DATASET_NOT_FOUND": DatasetNotFoundError,
    "DATASET_PATH_UNSAFE": DatasetPathUnsafeError,
    "WEBHOOK_MALFORMED": WebhookMalformedError,
    "WEBHOOK_TIMESTAMP_OUT_OF_RANGE": WebhookTimestampOutOfRangeError,
    "WEBHOOK_SIGNATURE_INVALID": WebhookSignatureInvalidError,
    "INTERNAL": InternalError,
}

#: Each group's class and its codes.
ERROR_GROUPS: dict[type[TrainpodError], tuple[str, ...]] = {
    InvalidInputError: ("INVALID_INPUT", "DATASET_INVALID", "URL_UNREACHABLE_FROM_POD"),
    TokenError: (
        "TOKEN_MALFORMED",
        "TOKEN_UNSUPPORTED_VERSION",
        "TOKEN_UNKNOWN_KEY",
        "TOKEN_KEY_RETIRED",
        "TOKEN_SIGNATURE_INVALID",
        "TOKEN_WRONG_PURPOSE",
        "TOKEN_WRONG_AUDIENCE",
        "TOKEN_WRONG_ISSUER",
        "TOKEN_SCOPE_MISMATCH",
        "TOKEN_EXPIRED",
        "TOKEN_NOT_YET_VALID",
        "TOKEN_LIFETIME_EXCEEDED",
        "TOKEN_ALREADY_USED",
        "TOKEN_MISSING",
    ),
    SequenceConflictError: ("SEQUENCE_CONFLICT",),
    StoreError: ("STORE_UNAVAILABLE", "STORE_SCHEMA"),
    ApiError: (
        "AUTH_INVALID",
        "CREDENTIALS_UNAVAILABLE",
        "INSUFFICIENT_BALANCE",
        "FORBIDDEN",
        "NOT_FOUND",
        "INVALID_STATE",
        "CAPACITY_UNAVAILABLE",
        "RATE_LIMITED",
        "SERVER_ERROR",
        "TRANSPORT",
        "TIMEOUT",
    ),
    DatasetError: ("DATASET_NOT_FOUND", "DATASET_PATH_UNSAFE"),
    WebhookError: (
        "WEBHOOK_MALFORMED",
        "WEBHOOK_TIMESTAMP_OUT_OF_RANGE",
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    InternalError: ("INTERNAL",),
}
