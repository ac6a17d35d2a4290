//! Two artifact uploads of one job at once, whose names differ only in extension: each is
//! written to a temporary file of its own, checked on disk and kept whole; nothing is left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use trainpod::clock::ManualClock;
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::token::{IssueRequest, KeyRing, Purpose, generate_secret};
use trainpod_e2e::{fresh_dir, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn all_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn two_uploads_whose_names_differ_only_in_extension_are_kept_whole() {
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir(&unique_id("artifact-uploads"));
    std::fs::create_dir_all(dir.join("datasets")).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(dir.join("datasets/chat"), rows.join("\n") + "\n").unwrap();
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(dir.join("datasets"))
        .artifacts_dir(dir.join("artifacts"))
        .clock(Arc::new(ManualClock::new(1_900_000_000)))
        .build()
        .await
        .unwrap();
    let spec = JobSpec {
        job_id: Some("arts-1".into()),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            2.0,
        )
    };
    tp.deploy(&tp.plan(&spec).await.unwrap()).await.unwrap();
    let mut req = IssueRequest::new(Purpose::ArtifactsWrite, "user-1", "arts-1").ttl_secs(600);
    req.epoch = Some(1);
    let auth = format!("Bearer {}", tp.tokens().issue(&req).unwrap().token.expose());
    let bin: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let json_body = br#"{"r": 16, "lora_alpha": 32}"#.repeat(1000);
    let files = [("adapter.bin", &bin), ("adapter.json", &json_body)];
    let manifest = |complete: bool| {
        let listed: Vec<_> = files
            .iter()
            .map(|(p, b)| json!({"path": p, "size": b.len(), "sha256": hex(b)}))
            .collect();
        json!({"job": "arts-1", "attempt": 1, "files": listed, "complete": complete}).to_string()
    };
    tp.artifact_manifest("arts-1", Some(&auth), manifest(false).as_bytes())
        .await
        .unwrap();
    // Both uploads are open at once and their chunks arrive in turns.
    let mut a = tp
        .begin_artifact("arts-1", Some(&auth), "adapter.bin")
        .await
        .unwrap();
    let mut b = tp
        .begin_artifact("arts-1", Some(&auth), "adapter.json")
        .await
        .unwrap();
    let (mut ca, mut cb) = (bin.chunks(4096), json_body.chunks(4096));
    loop {
        let (x, y) = (ca.next(), cb.next());
        if x.is_none() && y.is_none() {
            break;
        }
        if let Some(chunk) = x {
            a.write(chunk.to_vec()).await.unwrap();
        }
        if let Some(chunk) = y {
            b.write(chunk.to_vec()).await.unwrap();
        }
    }
    b.finish().await.unwrap();
    a.finish().await.unwrap();
    let done = tp
        .artifact_manifest("arts-1", Some(&auth), manifest(true).as_bytes())
        .await
        .unwrap();
    assert_eq!(done.body, r#"{"complete":true}"#);
    let out = dir.join("out");
    tp.download_artifacts("arts-1", &out).await.unwrap();
    assert_eq!(std::fs::read(out.join("adapter.bin")).unwrap(), bin);
    assert_eq!(std::fs::read(out.join("adapter.json")).unwrap(), json_body);
    // Only the kept files and the job's own records: no temporary file left behind.
    let kept = all_files(&dir.join("artifacts"));
    assert!(!kept.iter().any(|f| f.contains("part")), "{kept:?}");
}
