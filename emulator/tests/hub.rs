//! The Hub mirror answers as huggingface_hub expects (its real client is exercised end to end by
//! tests/e2e/tests/pod_fetch.rs); here, with curl, the answers that client only sees on a
//! refusal or a resume: gated, unknown repository, revision and file, and a ranged GET.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use trainpod_emulator::Hub;

/// `curl` against the mirror: (status, lower-case headers, body).
fn curl(args: &[&str]) -> (u16, HashMap<String, String>, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?} failed");
    let text = out.stdout;
    let split = text.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&text[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, text[split + 4..].to_vec())
}

fn mirror_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trainpod-hub-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let repo = dir.join("org/model");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::write(repo.join("config.json"), b"{\"model_type\":\"llama\"}").unwrap();
    std::fs::write(repo.join("sub/weights.bin"), b"0123456789").unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_revisions_and_refusals_answer_as_the_hub_does() {
    let dir = mirror_dir("answers");
    let hub = Hub::start(dir.clone()).await.unwrap();
    let base = hub.endpoint();
    let url = |path: &str| format!("{base}{path}");

    let (status, h, body) = curl(&[&url("/api/models/org/model/revision/main")]);
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let commit = info["sha"].as_str().unwrap().to_owned();
    assert_eq!(commit.len(), 40);
    assert_eq!(h["content-type"], "application/json");
    let files: Vec<&str> = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["config.json", "sub/weights.bin"]);

    // A HEAD gives what hf_hub_download keys its cache on, and sends no file bytes.
    let (status, h, _) = curl(&["-I", &url("/org/model/resolve/main/sub/weights.bin")]);
    assert_eq!(status, 200);
    assert_eq!(h["x-repo-commit"], commit);
    assert_eq!(h["content-length"], "10");
    assert!(h["etag"].starts_with('"') && h["etag"].len() == 66, "{h:?}");
    assert_eq!(hub.bytes_served(), 0);

    // The commit id is a revision too; a ranged GET resumes and counts what it sent.
    let path = format!("/org/model/resolve/{commit}/sub/weights.bin");
    let (status, h, body) = curl(&["-H", "Range: bytes=4-", &url(&path)]);
    assert_eq!((status, body.as_slice()), (206, b"456789".as_slice()));
    assert_eq!(h["content-range"], "bytes 4-9/10");
    assert_eq!((hub.bytes_served(), hub.files_served()), (6, 1));

    let refusal = |path: &str| {
        let (status, h, _) = curl(&[&url(path)]);
        (status, h.get("x-error-code").cloned().unwrap_or_default())
    };
    // Unknown or private look alike to an anonymous caller.
    assert_eq!(
        refusal("/api/models/org/absent/revision/main"),
        (401, "RepoNotFound".into())
    );
    assert_eq!(
        refusal("/org/absent/resolve/main/config.json"),
        (401, "RepoNotFound".into())
    );
    assert_eq!(
        refusal("/api/models/org/model/revision/v9"),
        (404, "RevisionNotFound".into())
    );
    let (status, h, _) = curl(&[&url("/org/model/resolve/main/absent.json")]);
    assert_eq!(
        (
            status,
            h["x-error-code"].as_str(),
            h["x-repo-commit"].as_str()
        ),
        (404, "EntryNotFound", commit.as_str())
    );

    // A gated repository: its metadata is public, its files need a granted token.
    std::fs::write(dir.join("org/model/.gated"), "hf_granted\n").unwrap();
    let (_, _, body) = curl(&[&url("/api/models/org/model")]);
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(info["gated"], "manual");
    assert_eq!(
        info["sha"], commit,
        "a hidden marker is not a file of the model"
    );
    for token in [None, Some("hf_other")] {
        let auth = token.map(|t| format!("Authorization: Bearer {t}"));
        let mut args = vec!["-I"];
        if let Some(a) = &auth {
            args.extend(["-H", a.as_str()]);
        }
        let config = url("/org/model/resolve/main/config.json");
        args.push(&config);
        let (status, h, _) = curl(&args);
        assert_eq!((status, h["x-error-code"].as_str()), (403, "GatedRepo"));
    }
    let (status, _, body) = curl(&[
        "-H",
        "Authorization: Bearer hf_granted",
        &url("/org/model/resolve/main/config.json"),
    ]);
    assert_eq!((status, body.len()), (200, 22));
    let _ = std::fs::remove_dir_all(&dir);
}
