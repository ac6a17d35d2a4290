//! The operator's `pod_env` on the RunPod emulator: a name that changes how the pod's processes
//! load, or that trainpod or RunPod set, is refused when the SDK is built; the pod's whole
//! environment (its script and `pod_env`) is held to its bound at plan and at deploy, before
//! anything is created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use trainpod::clock::ManualClock;
use trainpod::sdk::{DatasetRef, JobSpec, MAX_POD_ENV_BYTES, Trainpod, TrainpodBuilder};
use trainpod::store::Store;
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{ErrorKind, Result};
use trainpod_e2e::{fresh_dir, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

fn builder(
    emu: &Emulator,
    store: Arc<dyn Store>,
    keys: &KeyRing,
    pod_env: &BTreeMap<String, String>,
) -> TrainpodBuilder {
    // Tests run side by side, and a plan and its deploy may use two SDKs: a directory each.
    let dir = fresh_dir(&unique_id("pod-env"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    let mut b = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(keys.clone())
        .store(store)
        .datasets_dir(&datasets)
        .artifacts_dir(dir.join("artifacts"))
        .clock(Arc::new(ManualClock::new(1_900_000_000)));
    for (name, value) in pod_env {
        b = b.pod_env(name, value);
    }
    b
}

async fn build(emu: &Emulator, pod_env: &[(&str, &str)]) -> Result<Trainpod> {
    let store = trainpod::store::open("memory:").await.unwrap();
    let keys = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    let env = pod_env
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    builder(emu, store, &keys, &env).build().await
}

fn spec(job: &str) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            2.0,
        )
    }
}

#[tokio::test]
async fn reserved_names_are_refused_at_build_and_the_hub_settings_allowed() {
    let emu = Emulator::start().await.unwrap();
    for name in [
        "TRAINPOD_BUNDLE",
        "TRAINPOD_HOME",
        "RUNPOD_API_KEY",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "BASH_ENV",
        "ENV",
        "PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "HOME",
    ] {
        let err = build(&emu, &[(name, "value-never-shown")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}: {err}");
        assert!(err.message().contains(name), "{err}");
        assert!(!format!("{err:?}").contains("value-never-shown"), "{err:?}");
    }
    build(
        &emu,
        &[
            ("HF_TOKEN", "hf_abc"),
            ("HUGGING_FACE_HUB_TOKEN", "hf_abc"),
            ("HF_ENDPOINT", "https://hub.example.com"),
            ("HF_HOME", "/workspace/hf"),
        ],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn forty_values_of_30_kib_are_refused_at_build_with_the_numbers() {
    let emu = Emulator::start().await.unwrap();
    let value = "v".repeat(30 * 1024);
    let names: Vec<String> = (0..40).map(|i| format!("BIG_{i:02}")).collect();
    let env: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    let err = build(&emu, &env).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let total = 40 * (6 + 30 * 1024);
    assert!(err.message().contains(&format!("{total} bytes")), "{err}");
    assert!(
        err.message().contains(&format!("{MAX_POD_ENV_BYTES}-byte")),
        "{err}"
    );
}

#[tokio::test]
async fn the_whole_environment_is_bounded_at_plan_and_at_deploy() {
    let emu = Emulator::start().await.unwrap();
    let store = trainpod::store::open("memory:").await.unwrap();
    let keys = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    // pod_env alone fits the bound; with the pod's script it does not.
    let value = "v".repeat(30 * 1024);
    let big: BTreeMap<String, String> = (0..4)
        .map(|i| (format!("BIG_{i}"), value.clone()))
        .collect();
    let operator: usize = big.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(operator < MAX_POD_ENV_BYTES);
    let heavy = builder(&emu, store.clone(), &keys, &big)
        .build()
        .await
        .unwrap();
    let err = heavy.plan(&spec("env-plan")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message().contains("the pod's environment would hold"),
        "{err}"
    );
    assert!(
        err.message().contains(&format!("{operator} pod_env's")),
        "{err}"
    );
    // A plan made where pod_env is small, deployed where it is not: refused before any pod.
    let light = builder(&emu, store.clone(), &keys, &BTreeMap::new())
        .build()
        .await
        .unwrap();
    let plan = light.plan(&spec("env-deploy")).await.unwrap();
    let err = heavy.deploy(&plan).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message().contains("the pod's environment would hold"),
        "{err}"
    );
    assert_eq!(emu.pod_count(), 0);
    let job = light.deploy(&plan).await.unwrap();
    let pod = light.runpod().get_pod(&job.pod_id.unwrap()).await.unwrap();
    assert!(pod.env.contains_key("TRAINPOD_BUNDLE"));
}
