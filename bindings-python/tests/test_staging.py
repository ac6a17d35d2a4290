"""App staging from Python: signed URLs, grants with ranges, typed refusals, and a real HTTP
handler of a few lines served over loopback."""

from __future__ import annotations

import hashlib
import http.server
import os
import pathlib
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
import trainpod

KEYS = "k1:active:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
NOW = 1_767_225_600
DATA = b"".join(b'{"text":"row %d"}\n' % i for i in range(5000))


@pytest.fixture
def staging(tmp_path: pathlib.Path) -> trainpod.AppStaging:
    root = tmp_path / "root"
    root.mkdir()
    (root / "ds-1").write_bytes(DATA)
    (tmp_path / "canary").write_bytes(b"never served")
    os.symlink(tmp_path / "canary", root / "link-out")
    tokens = trainpod.Tokens(KEYS, "https://app.example.com", now=NOW)
    return trainpod.AppStaging(root, tokens)


def bearer(staging: trainpod.AppStaging, dataset: str = "ds-1", job: str = "job-1") -> str:
    dl = staging.signed_download_url("https://app.example.com", job, "user-1", dataset)
    return f"Bearer {dl.token}"


def test_signed_url_carries_size_and_digest(staging: trainpod.AppStaging) -> None:
    dl = staging.signed_download_url("https://app.example.com/api/", "job-1", "user-1", "ds-1")
    assert dl.url == "https://app.example.com/api/datasets/ds-1"
    assert dl.url_with_token == f"{dl.url}?token={dl.token}"
    assert dl.size == len(DATA)
    assert dl.sha256 == hashlib.sha256(DATA).hexdigest() == staging.digest("ds-1")
    assert dl.expires_at == NOW + 900
    assert dl.token not in repr(dl)


def test_whole_file_range_and_416(staging: trainpod.AppStaging) -> None:
    auth = bearer(staging)
    with staging.authorize_dataset_download(auth, None, "ds-1") as grant:
        assert (grant.status, grant.offset, grant.length) == (200, 0, len(DATA))
        assert b"".join(grant) == DATA
        assert grant.closed
        assert grant.header("Content-Type") == "application/octet-stream"
        assert grant.claims.job == "job-1"
    part = staging.authorize_dataset_download(auth, None, "ds-1", "bytes=10-19")
    assert (part.status, part.header("content-range")) == (206, f"bytes 10-19/{len(DATA)}")
    assert part.read(4) + part.read() == DATA[10:20]
    assert part.read() == b""
    part.close()
    empty = staging.authorize_dataset_download(auth, None, "ds-1", f"bytes={len(DATA)}-")
    assert (empty.status, empty.length, empty.read()) == (416, 0, b"")
    assert empty.header("content-range") == f"bytes */{len(DATA)}"
    ignored = staging.authorize_dataset_download(auth, None, "ds-1", "bytes=0-1,4-5")
    assert ignored.status == 200
    etag = ignored.etag
    stale = staging.authorize_dataset_download(auth, None, "ds-1", "bytes=5-", if_range='"x"')
    assert stale.status == 200
    fresh = staging.authorize_dataset_download(auth, None, "ds-1", "bytes=5-", if_range=etag)
    assert fresh.status == 206


@pytest.mark.parametrize(
    ("dataset_id", "token_for", "error", "status"),
    [
        ("../canary", "ds-1", trainpod.exceptions.TokenScopeMismatchError, 403),
        ("%2e%2e%2fcanary", "ds-1", trainpod.exceptions.TokenScopeMismatchError, 403),
        ("ds-1\x00", "ds-1", trainpod.exceptions.TokenScopeMismatchError, 403),
        ("..", "..", trainpod.InvalidInputError, 400),
        ("link-out", "link-out", trainpod.DatasetPathUnsafeError, 403),
        ("gone", "gone", trainpod.DatasetNotFoundError, 404),
    ],
)
def test_refusals_are_typed(
    staging: trainpod.AppStaging,
    dataset_id: str,
    token_for: str,
    error: type[trainpod.TrainpodError],
    status: int,
) -> None:
    tokens = trainpod.Tokens(KEYS, "https://app.example.com", now=NOW)
    token = tokens.issue("dataset.read", "user-1", "job-1", dataset=token_for).token
    with pytest.raises(error) as info:
        staging.authorize_dataset_download(f"Bearer {token}", None, dataset_id)
    assert trainpod.http_status(info.value.code) == status


def test_token_failures(staging: trainpod.AppStaging) -> None:
    auth = bearer(staging)
    token = auth.removeprefix("Bearer ")
    with pytest.raises(trainpod.exceptions.TokenMissingError):
        staging.authorize_dataset_download(None, None, "ds-1")
    with pytest.raises(trainpod.exceptions.TokenMalformedError):
        staging.authorize_dataset_download(auth, token, "ds-1")
    assert staging.authorize_dataset_download(None, token, "ds-1").status == 200
    with pytest.raises(trainpod.exceptions.TokenScopeMismatchError):
        staging.authorize_dataset_download(auth, None, "ds-1", job="job-2")
    late = trainpod.Tokens(KEYS, "https://app.example.com", now=NOW + 3600)
    root = staging.root
    with pytest.raises(trainpod.TokenExpiredError):
        trainpod.AppStaging(root, late).authorize_dataset_download(auth, None, "ds-1")
    strict = trainpod.AppStaging(root, late, allow_query_token=False)
    with pytest.raises(trainpod.exceptions.TokenMissingError):
        strict.authorize_dataset_download(None, token, "ds-1")
    with pytest.raises(trainpod.InvalidInputError):
        trainpod.AppStaging(root / "missing", late)


def serve(staging: trainpod.AppStaging) -> Iterator[str]:
    """A dataset route in a plain `http.server` handler: the few lines an app writes."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query).get("token", [None])[0]
            try:
                grant = staging.authorize_dataset_download(
                    self.headers.get("Authorization"),
                    query,
                    urllib.parse.unquote(url.path.removeprefix("/datasets/")),
                    self.headers.get("Range"),
                    if_range=self.headers.get("If-Range"),
                )
            except trainpod.TrainpodError as err:
                self.send_error(trainpod.http_status(err.code))
                return
            with grant:
                self.send_response(grant.status)
                for name, value in grant.headers:
                    self.send_header(name, value)
                self.end_headers()
                for chunk in grant:
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def base_url(staging: trainpod.AppStaging) -> Iterator[str]:
    yield from serve(staging)


def fetch(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def test_a_python_handler_serves_downloads_over_http(
    staging: trainpod.AppStaging, base_url: str
) -> None:
    dl = staging.signed_download_url(base_url, "job-1", "user-1", "ds-1")
    auth = {"Authorization": f"Bearer {dl.token}"}
    status, body = fetch(dl.url, auth)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == dl.sha256
    status, body = fetch(dl.url, {**auth, "Range": "bytes=1000-"})
    assert (status, body) == (206, DATA[1000:])
    assert fetch(dl.url_with_token, {})[1] == DATA
    assert fetch(dl.url, {})[0] == 401
    assert fetch(f"{base_url}/datasets/..%2fcanary", auth)[0] == 403
    assert fetch(dl.url, {**auth, "Range": f"bytes={len(DATA)}-"})[0] == 416
