//! The SDK with staged datasets on a real S3-compatible server (s3s-fs, `scripts/s3-server.sh`):
//! a bucket dataset reaches the pod through a presigned GET issued at deploy, and a network
//! volume dataset is read from the pod's mount in the volume's data center, with the artifacts
//! the pod leaves on the volume downloaded and checked afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::PathBuf;

use base64::Engine;
use serde_json::Value;
use trainpod::ErrorKind;
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::staging::sigv4::Credentials;
use trainpod::staging::{BucketStaging, S3Config, VolumeConfig, VolumeStaging};
use trainpod::token::{KeyRing, generate_secret};
use trainpod_e2e::{fresh_dir, sha256_hex, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

struct S3 {
    endpoint: String,
    access: String,
    secret: String,
    bucket: String,
    volume: String,
}

fn s3() -> Option<S3> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("TRAINPOD_TEST_S3_ENDPOINT") else {
        assert_ne!(
            var("TRAINPOD_REQUIRE_S3").as_deref(),
            Some("1"),
            "TRAINPOD_REQUIRE_S3=1 but no S3 server: eval \"$(scripts/s3-server.sh start)\""
        );
        eprintln!("skipped: no S3 server (TRAINPOD_TEST_S3_ENDPOINT)");
        return None;
    };
    Some(S3 {
        endpoint,
        access: var("TRAINPOD_TEST_S3_ACCESS_KEY").unwrap(),
        secret: var("TRAINPOD_TEST_S3_SECRET_KEY").unwrap(),
        bucket: var("TRAINPOD_TEST_S3_BUCKET").unwrap_or_else(|| "trainpod-test".into()),
        volume: var("TRAINPOD_TEST_S3_VOLUME").unwrap_or_else(|| "volume-test".into()),
    })
}

fn dataset(dir: &std::path::Path) -> (PathBuf, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/chat.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let copy = dir.join("chat.jsonl");
    std::fs::write(&copy, &bytes).unwrap();
    (copy, bytes)
}

async fn builder(emu: &Emulator) -> trainpod::sdk::TrainpodBuilder {
    Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
}

/// The config.json inside the pod's bundle, as the pod will read it.
async fn pod_config(tp: &Trainpod, pod_id: &str) -> Value {
    let pod = tp.runpod().get_pod(pod_id).await.unwrap();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(&pod.env["TRAINPOD_BUNDLE"])
        .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("config.json") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return serde_json::from_str(&text).unwrap();
        }
    }
    panic!("no config.json in the bundle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_dataset_reaches_the_pod_through_a_presigned_get() {
    let Some(s3) = s3() else { return };
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir("sdk-bucket");
    let (path, bytes) = dataset(&dir);
    let config = S3Config::builder()
        .endpoint(&s3.endpoint)
        .region("us-east-1")
        .bucket(&s3.bucket)
        .credentials(Credentials::new(&s3.access, &s3.secret).unwrap())
        .build()
        .unwrap();
    let bucket = BucketStaging::new(config).unwrap();
    let key = format!("datasets/{}.jsonl", unique_id("chat"));
    let uploaded = bucket.upload_file(&path, &key).await.unwrap();
    let tp = builder(&emu).await.bucket(bucket).build().await.unwrap();
    let reference = DatasetRef::Bucket {
        key: key.clone(),
        bytes: uploaded.bytes,
        sha256: uploaded.sha256.clone(),
    };
    let spec = JobSpec::new("u", "Qwen/Qwen2.5-0.5B", reference, 1.0);
    let job = tp.deploy(&tp.plan(&spec).await.unwrap()).await.unwrap();
    let config = pod_config(&tp, job.pod_id.as_ref().unwrap()).await;
    let url = config["dataset"]["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    // The pod needs nothing but the URL: no credentials, no token.
    assert!(config["dataset"]["token"].is_null());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let got = reqwest::get(url).await.unwrap();
    assert_eq!(got.status(), 200);
    let body = got.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&bytes));
    assert_eq!(config["dataset"]["sha256"], uploaded.sha256);

    // A dataset that is not in the bucket, or not the size given, is refused at plan.
    let missing = DatasetRef::Bucket {
        key: "datasets/none.jsonl".into(),
        bytes: 1,
        sha256: "a".repeat(64),
    };
    let err = tp
        .plan(&JobSpec::new("u", "Qwen/Qwen2.5-0.5B", missing, 1.0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetNotFound);
    let wrong = DatasetRef::Bucket {
        key,
        bytes: uploaded.bytes + 1,
        sha256: uploaded.sha256,
    };
    let err = tp
        .plan(&JobSpec::new("u", "Qwen/Qwen2.5-0.5B", wrong, 1.0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetInvalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_dataset_is_read_from_the_mount_and_the_artifacts_come_back_from_the_volume() {
    let Some(s3) = s3() else { return };
    let emu = Emulator::start().await.unwrap();
    assert!(emu.add_network_volume(&s3.volume, "EU-RO-1"));
    let dir = fresh_dir("sdk-volume");
    let (path, _) = dataset(&dir);
    let volume = || {
        let config = VolumeConfig::builder()
            .data_center_id("eu-ro-1")
            .volume_id(&s3.volume)
            .credentials(Credentials::new(&s3.access, &s3.secret).unwrap())
            .endpoint(&s3.endpoint)
            .signing_region("eu-ro-1")
            .build()
            .unwrap();
        VolumeStaging::new(config).unwrap()
    };
    let key = format!("datasets/{}.jsonl", unique_id("chat"));
    let uploaded = volume().upload_file(&path, &key).await.unwrap();
    let tp = builder(&emu).await.volume(volume()).build().await.unwrap();
    let reference = DatasetRef::Volume {
        key: key.clone(),
        bytes: uploaded.bytes,
        sha256: uploaded.sha256.clone(),
    };
    let job_id = unique_id("vol");
    let spec = JobSpec {
        job_id: Some(job_id.clone()),
        ..JobSpec::new("u", "Qwen/Qwen2.5-0.5B", reference, 1.0)
    };
    let plan = tp.plan(&spec).await.unwrap();
    assert_eq!(plan.spec.data_centers, ["EU-RO-1"]);
    let job = tp.deploy(&plan).await.unwrap();
    let pod = tp
        .runpod()
        .get_pod(job.pod_id.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        pod.data_center_id.as_deref(),
        Some("EU-RO-1"),
        "the pod runs where its volume is"
    );
    let config = pod_config(&tp, &pod.id).await;
    assert_eq!(config["dataset"]["kind"], "path");
    assert_eq!(config["dataset"]["path"], format!("/workspace/{key}"));
    assert_eq!(config["artifacts"]["kind"], "volume");
    // The caches (the model above all) outlive the job on the volume, for the next job there.
    assert_eq!(config["runtime"]["cache_dir"], "/workspace/trainpod/cache");

    // What the pod's uploader leaves on the volume: the files and their manifest.
    let adapter = b"adapter weights".to_vec();
    let files = serde_json::json!({"files": [
        {"path": "final/adapter_model.safetensors", "size": adapter.len(), "sha256": sha256_hex(&adapter)}
    ]});
    let prefix = format!("trainpod-artifacts/{job_id}/1");
    let local = dir.join("adapter_model.safetensors");
    std::fs::write(&local, &adapter).unwrap();
    volume()
        .upload_file(&local, &format!("{prefix}/final/adapter_model.safetensors"))
        .await
        .unwrap();
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, files.to_string()).unwrap();
    volume()
        .upload_file(&manifest, &format!("{prefix}/manifest.json"))
        .await
        .unwrap();

    let out = dir.join("out");
    let got = tp.download_artifacts(&job_id, &out).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        std::fs::read(out.join("final/adapter_model.safetensors")).unwrap(),
        adapter
    );

    // A file cut short on the volume does not pass for the artifact.
    std::fs::write(&local, b"adapter").unwrap();
    volume()
        .upload_file(&local, &format!("{prefix}/final/adapter_model.safetensors"))
        .await
        .unwrap();
    let err = tp
        .download_artifacts(&job_id, &dir.join("out2"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetInvalid);
}
