"""Types of the native module (checked by mypy against the tests)."""

import os
import pathlib
from collections.abc import Awaitable
from types import TracebackType

class Claims:
    v: int
    iss: str
    aud: str
    pur: str
    sub: str
    job: str
    ds: str | None
    res: str | None
    iat: int
    nbf: int
    exp: int
    jti: str
    once: bool
    ep: int | None
    def to_dict(self) -> dict[str, str | int | bool]: ...

class IssuedToken:
    token: str
    claims: Claims

class Store:
    @staticmethod
    def open(url: str) -> Store: ...
    @staticmethod
    def open_async(url: str) -> Awaitable[Store]: ...
    @property
    def backend(self) -> str: ...

class Tokens:
    def __init__(
        self,
        keys: str,
        audience: str,
        *,
        issuer: str = "trainpod",
        leeway_secs: int = 60,
        now: int | None = None,
    ) -> None: ...
    def set_now(self, now: int) -> None: ...
    def issue(
        self,
        purpose: str,
        user: str,
        job: str,
        *,
        dataset: str | None = None,
        resource: str | None = None,
        ttl_secs: int | None = None,
        not_before_delay_secs: int = 0,
        once: bool = False,
        epoch: int | None = None,
        jti: str | None = None,
    ) -> IssuedToken: ...
    def verify(
        self,
        token: str,
        purpose: str,
        *,
        job: str | None = None,
        dataset: str | None = None,
        user: str | None = None,
    ) -> Claims: ...
    def verify_authorization(
        self,
        authorization: str | None,
        purpose: str,
        *,
        job: str | None = None,
        dataset: str | None = None,
        user: str | None = None,
    ) -> Claims: ...
    def verify_and_redeem(
        self,
        token: str,
        purpose: str,
        store: Store,
        *,
        job: str | None = None,
        dataset: str | None = None,
        user: str | None = None,
    ) -> Claims: ...
    def verify_and_redeem_async(
        self,
        token: str,
        purpose: str,
        store: Store,
        *,
        job: str | None = None,
        dataset: str | None = None,
        user: str | None = None,
    ) -> Awaitable[Claims]: ...

class SignedDownload:
    url: str
    url_with_token: str
    token: str
    expires_at: int
    size: int
    sha256: str

class DatasetGrant:
    status: int
    headers: list[tuple[str, str]]
    offset: int
    length: int
    size: int
    sha256: str
    etag: str
    dataset: str
    claims: Claims
    @property
    def closed(self) -> bool: ...
    def read(self, size: int = 1048576) -> bytes: ...
    def close(self) -> None: ...
    def header(self, name: str) -> str | None: ...
    def __iter__(self) -> DatasetGrant: ...
    def __next__(self) -> bytes: ...
    def __enter__(self) -> DatasetGrant: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

class AppStaging:
    def __init__(
        self,
        root: str | os.PathLike[str],
        tokens: Tokens,
        *,
        allow_query_token: bool = True,
        allow_hardlinks: bool = False,
    ) -> None: ...
    @property
    def root(self) -> pathlib.Path: ...
    def digest(self, dataset: str) -> str: ...
    def signed_download_url(
        self,
        base_url: str,
        job: str,
        user: str,
        dataset: str,
        *,
        ttl_secs: int | None = None,
    ) -> SignedDownload: ...
    def authorize_dataset_download(
        self,
        authorization: str | None,
        query_token: str | None,
        dataset_id: str,
        range: str | None = None,
        *,
        if_range: str | None = None,
        job: str | None = None,
    ) -> DatasetGrant: ...

def http_status(code: str) -> int: ...
def generate_secret() -> str: ...
def error_codes() -> list[str]: ...
def version() -> str: ...
