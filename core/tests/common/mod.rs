//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `tests/fixtures/<name>` at the repository root, parsed as JSON.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The Postgres URL for tests, or `None` to skip. With `TRAINPOD_REQUIRE_POSTGRES=1` (set by
/// the test script and CI) a missing URL fails the test instead, so CI can never skip it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TRAINPOD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("TRAINPOD_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!(
                "TRAINPOD_TEST_DATABASE_URL is not set but TRAINPOD_REQUIRE_POSTGRES=1; start Postgres with scripts/postgres.sh"
            )
        }
        _ => {
            eprintln!(
                "skipping: set TRAINPOD_TEST_DATABASE_URL (scripts/postgres.sh start) to run the Postgres tests"
            );
            None
        }
    }
}

/// The S3-compatible test server started by `scripts/s3-server.sh start`.
#[derive(Clone, Debug)]
pub struct S3Env {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// A bucket for bucket staging.
    pub bucket: String,
    /// A bucket standing for a RunPod network volume.
    pub volume: String,
    /// The server's data directory (`<dir>/data/<bucket>/<key>`), to check what it stored.
    pub data_dir: Option<PathBuf>,
}

/// The S3 test server, or `None` to skip. With `TRAINPOD_REQUIRE_S3=1` (set by the test
/// script and CI) a missing server fails the test instead, so CI can never skip it.
pub fn s3_env() -> Option<S3Env> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match var("TRAINPOD_TEST_S3_ENDPOINT") {
        Some(endpoint) => Some(S3Env {
            endpoint,
            access_key: var("TRAINPOD_TEST_S3_ACCESS_KEY").expect("TRAINPOD_TEST_S3_ACCESS_KEY"),
            secret_key: var("TRAINPOD_TEST_S3_SECRET_KEY").expect("TRAINPOD_TEST_S3_SECRET_KEY"),
            bucket: var("TRAINPOD_TEST_S3_BUCKET").unwrap_or_else(|| "trainpod-test".into()),
            volume: var("TRAINPOD_TEST_S3_VOLUME").unwrap_or_else(|| "volume-test".into()),
            data_dir: var("TRAINPOD_S3_DIR").map(|d| PathBuf::from(d).join("data")),
        }),
        None if std::env::var("TRAINPOD_REQUIRE_S3").as_deref() == Ok("1") => {
            panic!(
                "TRAINPOD_TEST_S3_ENDPOINT is not set but TRAINPOD_REQUIRE_S3=1; start the S3 server with eval \"$(scripts/s3-server.sh start)\""
            )
        }
        None => {
            eprintln!(
                "skipping: set TRAINPOD_TEST_S3_ENDPOINT (eval \"$(scripts/s3-server.sh start)\") to run the S3 tests"
            );
            None
        }
    }
}
