//! Any artifact path a pod names: accepted only as a relative path of plain names, never one
//! that leaves the artifacts directory.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use trainpod::sdk::check_artifact_path;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if check_artifact_path(path).is_ok() {
        let p = Path::new(path);
        assert!(p.is_relative());
        assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
        assert!(!path.contains('\0') && !path.contains('\\'));
    }
});
