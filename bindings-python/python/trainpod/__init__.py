"""trainpod: train a model on a dataset on a rented RunPod GPU, and never bill for a pod that is
not training. This package is a thin binding over the Rust core."""

from trainpod import exceptions
from trainpod._native import (
    AppStaging,
    Claims,
    DatasetGrant,
    IssuedToken,
    SignedDownload,
    Store,
    Tokens,
    error_codes,
    generate_secret,
    http_status,
    version,
)
from trainpod.exceptions import (
    ERRORS_BY_CODE,
    ApiError,
    DatasetInvalidError,
    DatasetNotFoundError,
    DatasetPathUnsafeError,
    InvalidInputError,
    SequenceConflictError,
    StoreError,
    TokenAlreadyUsedError,
    TokenError,
    TokenExpiredError,
    TokenSignatureInvalidError,
    TrainpodError,
)

__version__: str = version()

__all__ = [
    "ERRORS_BY_CODE",
    "ApiError",
    "AppStaging",
    "Claims",
    "DatasetGrant",
    "DatasetInvalidError",
    "DatasetNotFoundError",
    "DatasetPathUnsafeError",
    "InvalidInputError",
    "IssuedToken",
    "SequenceConflictError",
    "SignedDownload",
    "Store",
    "StoreError",
    "TokenAlreadyUsedError",
    "TokenError",
    "TokenExpiredError",
    "TokenSignatureInvalidError",
    "Tokens",
    "TrainpodError",
    "__version__",
    "error_codes",
    "exceptions",
    "generate_secret",
    "http_status",
]
