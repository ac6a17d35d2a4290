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
