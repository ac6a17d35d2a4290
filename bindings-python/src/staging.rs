//! `AppStaging` and `DatasetGrant`: serve staged datasets from a Python web handler. Every rule
//! (token, id, opening beneath the root, ranges, headers) lives in core; this converts.

use crate::errors::{invalid, map};
use crate::runtime::block_on;
use crate::tokens::{Claims, Tokens};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Mutex;
use trainpod::staging::{self, DownloadRequest, Grant};

/// Datasets under one root directory, addressed by id, served through signed URLs.
#[pyclass(frozen, module = "trainpod._native")]
#[derive(Debug)]
pub struct AppStaging {
    inner: staging::AppStaging,
}

/// A download URL for one dataset and job. `repr` hides the token.
#[pyclass(frozen, get_all, module = "trainpod._native")]
pub struct SignedDownload {
    url: String,
    url_with_token: String,
    token: String,
    expires_at: u64,
    size: u64,
    sha256: String,
}

/// An authorized download: answer `status` with `headers`, then stream the body by iterating
/// (or `read`) unless the request was `HEAD`. Close it (or use `with`) when done.
#[pyclass(frozen, module = "trainpod._native")]
pub struct DatasetGrant {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    #[pyo3(get)]
    offset: u64,
    #[pyo3(get)]
    length: u64,
    #[pyo3(get)]
    size: u64,
    #[pyo3(get)]
    sha256: String,
    #[pyo3(get)]
    etag: String,
    #[pyo3(get)]
    dataset: String,
    #[pyo3(get)]
    claims: Py<Claims>,
    /// The grant (its open file) and how many body bytes were read; `None` once closed.
    body: Mutex<Option<(Grant, u64)>>,
}

const DEFAULT_CHUNK: usize = 1 << 20;
const MAX_CHUNK: usize = 16 << 20;

#[pymethods]
impl AppStaging {
    /// Serve the datasets under `root`, verifying tokens with `tokens`.
    #[new]
    #[pyo3(signature = (root, tokens, *, allow_query_token = true, allow_hardlinks = false))]
    fn new(
        py: Python<'_>,
        root: std::path::PathBuf,
        tokens: &Tokens,
        allow_query_token: bool,
        allow_hardlinks: bool,
    ) -> PyResult<Self> {
        let inner = map(py, staging::AppStaging::new(root, tokens.inner().clone()))?
            .allow_query_token(allow_query_token)
            .allow_hardlinks(allow_hardlinks);
        Ok(AppStaging { inner })
    }

    /// The root directory.
    #[getter]
    fn root(&self) -> std::path::PathBuf {
        self.inner.root().to_owned()
    }

    /// The sha256 (hex) of a staged dataset, computed once and cached.
    fn digest(&self, py: Python<'_>, dataset: &str) -> PyResult<String> {
        map(py, block_on(py, self.inner.digest(dataset)))
    }

    /// Issue a `dataset.read` token and the URL `<base_url>/datasets/<dataset>` it unlocks.
    #[pyo3(signature = (base_url, job, user, dataset, *, ttl_secs = None))]
    fn signed_download_url(
        &self,
        py: Python<'_>,
        base_url: &str,
        job: &str,
        user: &str,
        dataset: &str,
        ttl_secs: Option<i128>,
    ) -> PyResult<SignedDownload> {
        let ttl = match ttl_secs {
            None => None,
            Some(t) => {
                Some(u64::try_from(t).map_err(|_| invalid(py, "ttl_secs must be positive"))?)
            }
        };
        let dl = block_on(
            py,
            self.inner
                .signed_download_url(base_url, job, user, dataset, ttl),
        );
        let dl = map(py, dl)?;
        Ok(SignedDownload {
            url: dl.url,
            url_with_token: dl.url_with_token,
            token: dl.token.expose().to_owned(),
            expires_at: dl.expires_at,
            size: dl.size,
            sha256: dl.sha256,
        })
    }

    /// Turn a request into a grant, or raise the typed error; answer an error with
    /// `http_status(err.code)` (the specific reason of a token error belongs in logs only).
    #[pyo3(signature = (authorization, query_token, dataset_id, range = None, *, if_range = None, job = None))]
    #[allow(clippy::too_many_arguments)]
    fn authorize_dataset_download(
        &self,
        py: Python<'_>,
        authorization: Option<&str>,
        query_token: Option<&str>,
        dataset_id: &str,
        range: Option<&str>,
        if_range: Option<&str>,
        job: Option<&str>,
    ) -> PyResult<DatasetGrant> {
        let req = DownloadRequest {
            authorization,
            query_token,
            dataset_id,
            range,
            if_range,
            job,
        };
        // Core opens and hashes on its blocking pool; other Python threads run meanwhile.
        let grant = map(py, block_on(py, self.inner.authorize(&req)))?;
        DatasetGrant::new(py, grant)
    }
}

/// A core grant as the Python `DatasetGrant`.
pub(crate) fn grant(py: Python<'_>, grant: Grant) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, DatasetGrant::new(py, grant)?)?.into_any())
}

impl DatasetGrant {
    fn new(py: Python<'_>, grant: Grant) -> PyResult<Self> {
        Ok(DatasetGrant {
            status: grant.status,
            headers: grant
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            offset: grant.offset,
            length: grant.length,
            size: grant.size,
            sha256: grant.sha256.clone(),
            etag: grant.etag.clone(),
            dataset: grant.dataset.clone(),
            claims: Py::new(py, Claims::from(grant.claims.clone()))?,
            body: Mutex::new(Some((grant, 0))),
        })
    }

    fn body(&self) -> std::sync::MutexGuard<'_, Option<(Grant, u64)>> {
        self.body.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl DatasetGrant {
    /// The next body bytes, at most `size`; `b""` at the end of the range or once closed.
    #[pyo3(signature = (size = DEFAULT_CHUNK as i64))]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let size = usize::try_from(size)
            .ok()
            .filter(|s| (1..=MAX_CHUNK).contains(s))
            .ok_or_else(|| invalid(py, format!("size must be 1 to {MAX_CHUNK} bytes")))?;
        let mut body = self.body();
        let Some((grant, pos)) = body.as_mut() else {
            return Ok(PyBytes::new(py, b""));
        };
        let mut buf = vec![0u8; size];
        let n = py
            .detach(|| grant.read_at(&mut buf, *pos))
            .map_err(|e| invalid(py, format!("the dataset file could not be read: {e}")))?;
        *pos += n as u64;
        Ok(PyBytes::new(py, &buf[..n]))
    }

    /// Close the file. Reading afterwards gives `b""`.
    fn close(&self) {
        self.body().take();
    }

    /// Whether the file is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.body().is_none()
    }

    /// The value of a response header (lowercase name), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Body chunks of 1 MiB; closes the file at the end.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let chunk = self.read(py, DEFAULT_CHUNK as i64)?;
        if chunk.as_bytes().is_empty() {
            self.close();
            return Ok(None);
        }
        Ok(Some(chunk))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (
        _exc_type: "type[BaseException] | None",
        _exc: "BaseException | None",
        _tb: "TracebackType | None",
    ))]
    fn __exit__(
        &self,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) {
        self.close();
    }

    fn __repr__(&self) -> String {
        format!(
            "DatasetGrant(status={}, dataset={:?}, offset={}, length={}, size={})",
            self.status, self.dataset, self.offset, self.length, self.size
        )
    }
}

impl std::fmt::Debug for SignedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.__repr__())
    }
}

impl std::fmt::Debug for DatasetGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.__repr__())
    }
}

#[pymethods]
impl SignedDownload {
    fn __repr__(&self) -> String {
        format!(
            "SignedDownload(url={:?}, url_with_token=<redacted>, token=<redacted>, expires_at={}, size={}, sha256={:?})",
            self.url, self.expires_at, self.size, self.sha256
        )
    }
}
