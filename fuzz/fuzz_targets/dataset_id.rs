//! Any dataset id a route is asked for: a file is only ever opened beneath the datasets root.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trainpod::dataset::InspectOptions;
use trainpod::staging::{AppStaging, check_dataset_id};
use trainpod::token::{KeyRing, Tokens};

/// A datasets root with one dataset, and a file beside it that no id may reach.
fn staging() -> &'static (tempfile::TempDir, AppStaging) {
    static STAGING: OnceLock<(tempfile::TempDir, AppStaging)> = OnceLock::new();
    STAGING.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let datasets = dir.path().join("datasets");
        std::fs::create_dir(&datasets).expect("datasets dir");
        std::fs::write(datasets.join("chat"), b"{\"text\":\"x\"}\n").expect("a dataset");
        std::fs::write(dir.path().join("secret"), b"{\"text\":\"outside\"}\n").expect("a file");
        let ring = KeyRing::parse("k1:active:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NTY")
            .expect("a valid ring");
        let tokens = Tokens::builder().keys(ring).audience("fuzz").build().expect("tokens");
        let staging = AppStaging::new(&datasets, tokens).expect("the staging");
        (dir, staging)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let valid = check_dataset_id(id).is_ok();
    if staging().1.inspect(id, &InspectOptions::default()).is_ok() {
        assert!(valid, "an id refused by check_dataset_id opened a file");
        assert_eq!(id, "chat", "only the one dataset exists beneath the root");
    }
});
