"""Types of the native module (checked by mypy against the tests)."""

import datetime
import os
import pathlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

from trainpod.types import (
    ArtifactFile,
    ArtifactsAnswer,
    FollowUpdate,
    JobSpec,
    JobState,
    JobStatus,
    LogLine,
    Plan,
    ReconcileAction,
)

_T = TypeVar("_T")

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

class IngestOutcome:
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> str: ...
    @property
    def replay(self) -> bool: ...
    @property
    def terminate_pod(self) -> bool: ...
    @property
    def job_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def state(self) -> JobState: ...
    @property
    def step(self) -> int | None: ...
    @property
    def total_steps(self) -> int | None: ...
    @property
    def loss(self) -> float | None: ...
    def __init__(
        self,
        status: int,
        body: str,
        replay: bool,
        terminate_pod: bool,
        job_id: str,
        attempt: int,
        state: JobState,
        step: int | None,
        total_steps: int | None,
        loss: float | None,
    ) -> None: ...

class IssuedToken:
    token: str
    claims: Claims

class Store:
    @staticmethod
    def open(url: str) -> Store: ...
    @staticmethod
    def open_async(url: str) -> Coroutine[Any, Any, Store]: ...
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
    ) -> Coroutine[Any, Any, Claims]: ...

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
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
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

class Stream(Generic[_T]):
    def __iter__(self) -> Stream[_T]: ...
    def __next__(self) -> _T: ...
    def close(self) -> None: ...

class AsyncStream(Generic[_T]):
    def __aiter__(self) -> AsyncStream[_T]: ...
    def __anext__(self) -> Coroutine[Any, Any, _T]: ...
    def aclose(self) -> Coroutine[Any, Any, None]: ...

class Trainpod:
    def __init__(
        self,
        *,
        runpod_api_key: str | None = None,
        runpod_base_url: str | None = None,
        local_provider: tuple[str, str] | None = None,
        app_url: str | None = None,
        signing_keys: str | Tokens | None = None,
        store: str | None = None,
        datasets_dir: str | os.PathLike[str] | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
        allow_loopback: bool | None = None,
        image: str | None = None,
        pod_python: str | None = None,
        expect_gpu: bool | None = None,
        pod_runtime: Mapping[str, object] | None = None,
        pod_env: dict[str, str] | None = None,
        follow_interval: float | datetime.timedelta | None = None,
        ignore_env: bool = False,
        now: int | None = None,
    ) -> None: ...
    @property
    def tokens(self) -> Tokens: ...
    @property
    def store_backend(self) -> str: ...
    def set_now(self, now: int) -> None: ...
    def plan(self, spec: JobSpec) -> Plan: ...
    def deploy(self, plan: Plan) -> JobStatus: ...
    def status(self, job_id: str) -> JobStatus: ...
    @overload
    def follow(self, job_id: str, *, progress: Literal[False] = False) -> Stream[FollowUpdate]: ...
    @overload
    def follow(self, job_id: str, *, progress: bool) -> Iterator[FollowUpdate]: ...
    def logs(self, job_id: str, *, tail: int | None = None) -> Stream[LogLine]: ...
    def cancel(self, job_id: str) -> JobStatus: ...
    def retry(self, job_id: str) -> JobStatus: ...
    def reconcile(self) -> list[ReconcileAction]: ...
    def ingest_metrics(
        self, job_id: str, authorization: str | None, body: bytes | bytearray | str
    ) -> IngestOutcome: ...
    def authorize_dataset_download(
        self,
        authorization: str | None,
        query_token: str | None,
        dataset_id: str,
        range: str | None = None,
    ) -> DatasetGrant: ...
    def artifact_manifest(
        self, job_id: str, authorization: str | None, body: bytes | bytearray | str
    ) -> ArtifactsAnswer: ...
    def put_artifact(
        self,
        job_id: str,
        authorization: str | None,
        path: str,
        data: bytes | bytearray | Iterable[bytes],
    ) -> ArtifactFile: ...
    def artifacts(self, job_id: str) -> list[ArtifactFile]: ...
    def download_artifacts(
        self, job_id: str, dest: str | os.PathLike[str]
    ) -> list[ArtifactFile]: ...

class AsyncTrainpod:
    def __init__(
        self,
        *,
        runpod_api_key: str | None = None,
        runpod_base_url: str | None = None,
        local_provider: tuple[str, str] | None = None,
        app_url: str | None = None,
        signing_keys: str | Tokens | None = None,
        store: str | None = None,
        datasets_dir: str | os.PathLike[str] | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
        allow_loopback: bool | None = None,
        image: str | None = None,
        pod_python: str | None = None,
        expect_gpu: bool | None = None,
        pod_runtime: Mapping[str, object] | None = None,
        pod_env: dict[str, str] | None = None,
        follow_interval: float | datetime.timedelta | None = None,
        ignore_env: bool = False,
        now: int | None = None,
    ) -> None: ...
    @property
    def tokens(self) -> Tokens: ...
    @property
    def store_backend(self) -> str: ...
    def set_now(self, now: int) -> None: ...
    def plan(self, spec: JobSpec) -> Coroutine[Any, Any, Plan]: ...
    def deploy(self, plan: Plan) -> Coroutine[Any, Any, JobStatus]: ...
    def status(self, job_id: str) -> Coroutine[Any, Any, JobStatus]: ...
    @overload
    def follow(
        self, job_id: str, *, progress: Literal[False] = False
    ) -> AsyncStream[FollowUpdate]: ...
    @overload
    def follow(self, job_id: str, *, progress: bool) -> AsyncIterator[FollowUpdate]: ...
    def logs(self, job_id: str, *, tail: int | None = None) -> AsyncStream[LogLine]: ...
    def cancel(self, job_id: str) -> Coroutine[Any, Any, JobStatus]: ...
    def retry(self, job_id: str) -> Coroutine[Any, Any, JobStatus]: ...
    def reconcile(self) -> Coroutine[Any, Any, list[ReconcileAction]]: ...
    def ingest_metrics(
        self, job_id: str, authorization: str | None, body: bytes | bytearray | str
    ) -> Coroutine[Any, Any, IngestOutcome]: ...
    def authorize_dataset_download(
        self,
        authorization: str | None,
        query_token: str | None,
        dataset_id: str,
        range: str | None = None,
    ) -> Coroutine[Any, Any, DatasetGrant]: ...
    def artifact_manifest(
        self, job_id: str, authorization: str | None, body: bytes | bytearray | str
    ) -> Coroutine[Any, Any, ArtifactsAnswer]: ...
    def put_artifact(
        self,
        job_id: str,
        authorization: str | None,
        path: str,
        data: bytes | bytearray | Iterable[bytes] | AsyncIterable[bytes],
    ) -> Coroutine[Any, Any, ArtifactFile]: ...
    def artifacts(self, job_id: str) -> Coroutine[Any, Any, list[ArtifactFile]]: ...
    def download_artifacts(
        self, job_id: str, dest: str | os.PathLike[str]
    ) -> Coroutine[Any, Any, list[ArtifactFile]]: ...

def http_status(code: str) -> int: ...
def generate_secret() -> str: ...
def error_codes() -> list[str]: ...
def version() -> str: ...
