"""Types of the native module (checked by mypy against the tests)."""

from collections.abc import Awaitable

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

def generate_secret() -> str: ...
def error_codes() -> list[str]: ...
def version() -> str: ...
