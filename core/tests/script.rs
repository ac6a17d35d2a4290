//! Pod script generation: every bad field is refused with a typed error naming it, the bundle
//! is deterministic and bounded, and no credential shows in Debug output.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use base64::Engine;
use trainpod::ErrorKind;
use trainpod::dataset::DatasetFormat;
use trainpod::script::{
    Artifacts, BUNDLE_ENV, CheckpointFile, DatasetSource, Endpoint, Hyperparameters,
    LoraTargetModules, MAX_BUNDLE_BYTES, Method, PodRuntime, PodScript, Resume, Secret, Training,
    generate,
};

fn script() -> PodScript {
    PodScript {
        version: 1,
        job_id: "job-1".into(),
        attempt: 1,
        issued_at: 1_800_000_000,
        deadline_unix: 1_800_003_600,
        telemetry: Some(Endpoint {
            url: "https://app.example.com/api/metrics/job-1".into(),
            token: Secret::new("v1.k1.metrics-token.tag"),
        }),
        dataset: DatasetSource::Url {
            url: "https://app.example.com/api/datasets/ds-1".into(),
            token: Some(Secret::new("v1.k1.dataset-token.tag")),
            bytes: 10,
            sha256: "a".repeat(64),
        },
        training: Training::Sft {
            model: "Qwen/Qwen2.5-0.5B".into(),
            method: Method::Lora,
            hyperparameters: Hyperparameters::for_method(Method::Lora),
            dataset_format: None,
            eval_dataset_format: None,
        },
        artifacts: Artifacts::App {
            url: "https://app.example.com/api/artifacts/job-1".into(),
            token: Secret::new("v1.k1.artifacts-token.tag"),
        },
        runtime: PodRuntime::default(),
        resume: None,
        eval_dataset: None,
    }
}

fn refused(s: &PodScript, field: &str) {
    let err = generate(s).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains(field), "{field}: {err}");
}

fn unpack(encoded: &str) -> Vec<(String, Vec<u8>)> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz.as_slice()));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), data)
        })
        .collect()
}

#[test]
fn a_valid_script_bundles_every_template_and_its_values() {
    let bundle = generate(&script()).unwrap();
    let files = unpack(&bundle.env[BUNDLE_ENV]);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "bootstrap.sh",
        "trainer.py",
        "reporter.py",
        "upload.py",
        "config.json",
        "values.txt",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let values = &files.iter().find(|(n, _)| n == "values.txt").unwrap().1;
    let values = String::from_utf8(values.clone()).unwrap();
    assert!(values.lines().all(|l| l.contains('=')));
    assert!(values.contains("job_id=job-1\n"));
    let reqs = &files
        .iter()
        .find(|(n, _)| n == "requirements.txt")
        .unwrap()
        .1;
    assert!(String::from_utf8_lossy(reqs).contains("trl==1.16.0"));
}

/// RunPod takes an env value of at most 32 KiB (the create request's check): a job's whole
/// bundle, resuming from a checkpoint of a dozen files, fits in one.
#[test]
fn a_resuming_bundle_fits_one_env_value_and_its_templates_lost_only_comments() {
    let mut s = script();
    s.attempt = 2;
    s.resume = Some(Resume::App {
        step: 500,
        url: "https://app.example.com/trainpod/jobs/job-1/artifacts/files/checkpoints/1/500".into(),
        files: (0..12)
            .map(|i| CheckpointFile {
                path: format!("file-{i}.safetensors"),
                size: 1 << 20,
                sha256: "ab".repeat(32),
            })
            .collect(),
    });
    let bundle = generate(&s).unwrap();
    assert!(bundle.bytes <= 32 * 1024, "{} bytes", bundle.bytes);
    let files = unpack(&bundle.env[BUNDLE_ENV]);
    let bootstrap = &files.iter().find(|(n, _)| n == "bootstrap.sh").unwrap().1;
    let bootstrap = String::from_utf8_lossy(bootstrap);
    assert!(bootstrap.starts_with("#!/usr/bin/env bash\n"));
    let source = include_str!("../src/script/pod/bootstrap.sh");
    let code: Vec<&str> = source
        .lines()
        .filter(|l| !(l.trim_start() == "#" || l.trim_start().starts_with("# ")))
        .collect();
    assert_eq!(bootstrap.lines().collect::<Vec<_>>(), code);
    let config = config_json(&s);
    assert_eq!(config["resume"]["step"], 500);
    assert!(
        String::from_utf8_lossy(&files.iter().find(|(n, _)| n == "values.txt").unwrap().1)
            .contains("resume=1\n")
    );
}

#[test]
fn bundles_are_deterministic() {
    let a = generate(&script()).unwrap();
    let b = generate(&script()).unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.env, b.env);
}

#[test]
fn qlora_adds_bitsandbytes_and_needs_a_gpu() {
    let mut s = script();
    s.training = Training::Sft {
        model: "org/m".into(),
        method: Method::Qlora,
        hyperparameters: Hyperparameters::for_method(Method::Qlora),
        dataset_format: None,
        eval_dataset_format: None,
    };
    let files = unpack(&generate(&s).unwrap().env[BUNDLE_ENV]);
    let reqs = &files
        .iter()
        .find(|(n, _)| n == "requirements.txt")
        .unwrap()
        .1;
    assert!(String::from_utf8_lossy(reqs).contains("bitsandbytes=="));
    s.runtime.expect_gpu = false;
    refused(&s, "training.method");
}

#[test]
fn every_bad_field_is_refused_by_name() {
    type Mutation = Box<dyn Fn(&mut PodScript)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("job_id", Box::new(|s| s.job_id = "job 1; rm".into())),
        ("job_id", Box::new(|s| s.job_id = String::new())),
        ("attempt", Box::new(|s| s.attempt = 0)),
        (
            "deadline_unix",
            Box::new(|s| s.deadline_unix = s.issued_at + 60),
        ),
        (
            "telemetry.url",
            Box::new(|s| s.telemetry.as_mut().unwrap().url = "ftp://x/".into()),
        ),
        (
            "telemetry.url",
            Box::new(|s| s.telemetry.as_mut().unwrap().url = "https://a/\nb".into()),
        ),
        (
            "telemetry.url",
            Box::new(|s| s.telemetry.as_mut().unwrap().url = "https://u:p@a/".into()),
        ),
        (
            "telemetry.token",
            Box::new(|s| s.telemetry.as_mut().unwrap().token = Secret::new("a b")),
        ),
        (
            "dataset.sha256",
            Box::new(|s| {
                s.dataset = DatasetSource::Path {
                    path: "/workspace/d".into(),
                    bytes: 1,
                    sha256: "A".repeat(64),
                }
            }),
        ),
        (
            "dataset.path",
            Box::new(|s| {
                s.dataset = DatasetSource::Path {
                    path: "/workspace/../etc".into(),
                    bytes: 1,
                    sha256: "a".repeat(64),
                }
            }),
        ),
        (
            "training.model",
            Box::new(|s| {
                s.training = Training::Sft {
                    model: "../x".into(),
                    method: Method::Full,
                    hyperparameters: Hyperparameters::for_method(Method::Full),
                    dataset_format: None,
                    eval_dataset_format: None,
                }
            }),
        ),
        (
            "training.argv",
            Box::new(|s| s.training = Training::Command { argv: vec![] }),
        ),
        (
            "training.argv",
            Box::new(|s| {
                s.training = Training::Command {
                    argv: vec!["a\0b".into()],
                }
            }),
        ),
        (
            "hyperparameters.learning_rate",
            Box::new(|s| {
                let mut h = Hyperparameters::for_method(Method::Lora);
                h.learning_rate = f64::NAN;
                s.training = Training::Sft {
                    model: "org/m".into(),
                    method: Method::Lora,
                    hyperparameters: h,
                    dataset_format: None,
                    eval_dataset_format: None,
                }
            }),
        ),
        (
            "hyperparameters.max_length",
            Box::new(|s| {
                let mut h = Hyperparameters::for_method(Method::Lora);
                h.max_length = 0;
                s.training = Training::Sft {
                    model: "org/m".into(),
                    method: Method::Lora,
                    hyperparameters: h,
                    dataset_format: None,
                    eval_dataset_format: None,
                }
            }),
        ),
        (
            "artifacts.repo",
            Box::new(|s| {
                s.artifacts = Artifacts::Hub {
                    repo: "noslash".into(),
                    token: Secret::new("hf_x"),
                }
            }),
        ),
        (
            "artifacts.path",
            Box::new(|s| {
                s.artifacts = Artifacts::Volume {
                    path: "relative".into(),
                }
            }),
        ),
        (
            "runtime.python",
            Box::new(|s| s.runtime.python = "python3; id".into()),
        ),
        (
            "runtime.requirements",
            Box::new(|s| s.runtime.requirements = vec!["--index-url=http://evil".into()]),
        ),
        (
            "runtime.requirements",
            Box::new(|s| s.runtime.requirements = vec!["torch>=2".into()]),
        ),
        (
            "runtime.heartbeat_s",
            Box::new(|s| s.runtime.heartbeat_s = 0),
        ),
        (
            "runtime.gpus_per_node",
            Box::new(|s| s.runtime.gpus_per_node = 0),
        ),
        (
            "runtime.gpus_per_node",
            Box::new(|s| s.runtime.gpus_per_node = 9),
        ),
        ("runtime.nodes", Box::new(|s| s.runtime.nodes = 0)),
        ("runtime.nodes", Box::new(|s| s.runtime.nodes = 17)),
        ("runtime.uv", Box::new(|s| s.runtime.uv = Some("uv".into()))),
        (
            "runtime.cache_dir",
            Box::new(|s| s.runtime.cache_dir = Some("/workspace/../etc".into())),
        ),
        (
            "runtime.index_url",
            Box::new(|s| s.runtime.index_url = Some("https://user:pw@pypi.example/simple".into())),
        ),
        (
            "runtime.find_links",
            Box::new(|s| s.runtime.find_links = Some("wheels".into())),
        ),
    ];
    for (field, mutate) in cases {
        let mut s = script();
        mutate(&mut s);
        refused(&s, field);
    }
}

#[test]
fn an_oversized_bundle_is_refused_with_the_bound() {
    // Incompressible values: random printable text in the command and the URLs.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = |n: usize| -> String {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .filter(|c| !"#%?\\".contains(*c))
            .collect()
    };
    let mut s = script();
    s.training = Training::Command {
        argv: (0..8).map(|_| noise(2000)).collect(),
    };
    s.telemetry = Some(Endpoint {
        url: format!("https://a.example/{}", noise(2000)),
        token: Secret::new(noise(4000)),
    });
    s.artifacts = Artifacts::App {
        url: format!("https://a.example/{}", noise(2000)),
        token: Secret::new(noise(4000)),
    };
    if let DatasetSource::Url { token, url, .. } = &mut s.dataset {
        *url = format!("https://a.example/{}", noise(2000));
        *token = Some(Secret::new(noise(4000)));
    }
    s.runtime.python = format!("/{}", "p".repeat(200));
    let err = generate(&s).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains(&MAX_BUNDLE_BYTES.to_string()),
        "{err}"
    );
}

#[test]
fn credentials_never_show_in_debug() {
    let s = script();
    let bundle = generate(&s).unwrap();
    let shown = format!("{s:?} {bundle:?}");
    for secret in ["metrics-token", "dataset-token", "artifacts-token"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[test]
fn render_hides_every_credential_and_keeps_the_real_bundle_figures() {
    let mut s = script();
    s.dataset = DatasetSource::Url {
        url: "https://bucket.example.com/ds.jsonl?X-Amz-Signature=sig-secret".into(),
        token: None,
        bytes: 10,
        sha256: "a".repeat(64),
    };
    s.artifacts = Artifacts::Hub {
        repo: "org/adapter".into(),
        token: Secret::new("hf_hub-secret"),
    };
    let bundle = generate(&s).unwrap();
    let rendered = trainpod::script::render(&s).unwrap();
    assert_eq!(
        (rendered.bytes, &rendered.sha256),
        (bundle.bytes, &bundle.sha256)
    );
    assert_eq!(rendered.start_command, bundle.start_command);
    let unpacked = unpack(&bundle.env[BUNDLE_ENV]);
    let names: Vec<&str> = rendered.files.iter().map(|f| f.name.as_str()).collect();
    let real: Vec<&str> = unpacked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, real, "the same files in the same order");
    for secret in ["metrics-token", "sig-secret", "hf_hub-secret"] {
        assert!(
            unpacked
                .iter()
                .any(|(_, d)| String::from_utf8_lossy(d).contains(secret)),
            "{secret} is in the real bundle"
        );
        for f in &rendered.files {
            assert!(!f.text.contains(secret), "{secret} shows in {}", f.name);
        }
    }
    // Files without credentials are rendered as they are.
    let bootstrap = rendered
        .files
        .iter()
        .find(|f| f.name == "bootstrap.sh")
        .unwrap();
    let (_, real_bootstrap) = unpacked.iter().find(|(n, _)| n == "bootstrap.sh").unwrap();
    assert_eq!(bootstrap.text.as_bytes(), real_bootstrap.as_slice());
    assert_eq!(bootstrap.mode, 0o755);
    // A script generate refuses is refused by render with the same error.
    s.job_id = "../x".into();
    assert_eq!(
        trainpod::script::render(&s).unwrap_err().to_string(),
        generate(&s).unwrap_err().to_string()
    );
}

fn config_json(s: &PodScript) -> serde_json::Value {
    let files = unpack(&generate(s).unwrap().env[BUNDLE_ENV]);
    let config = &files.iter().find(|(n, _)| n == "config.json").unwrap().1;
    serde_json::from_slice(config).unwrap()
}

fn lora_with(targets: LoraTargetModules) -> Training {
    Training::Sft {
        model: "org/m".into(),
        method: Method::Lora,
        hyperparameters: Hyperparameters {
            lora_target_modules: targets,
            ..Hyperparameters::for_method(Method::Lora)
        },
        dataset_format: Some(DatasetFormat::Alpaca),
        eval_dataset_format: None,
    }
}

#[test]
fn lora_target_modules_and_the_dataset_format_reach_the_trainer_as_data() {
    let mut s = script();
    let hp = &config_json(&s)["training"];
    assert_eq!(hp["hyperparameters"]["lora_target_modules"], "all-linear");
    assert_eq!(hp["dataset_format"], serde_json::Value::Null);
    s.training = lora_with(LoraTargetModules::Names(vec![
        "q_proj".into(),
        "model.layers.0.mlp.down_proj".into(),
    ]));
    let training = &config_json(&s)["training"];
    assert_eq!(
        training["hyperparameters"]["lora_target_modules"],
        serde_json::json!(["q_proj", "model.layers.0.mlp.down_proj"])
    );
    assert_eq!(training["dataset_format"], "alpaca");
}

#[test]
fn the_jobs_nodes_and_gpus_per_node_reach_the_pod_as_data() {
    let mut s = script();
    let runtime = &config_json(&s)["runtime"];
    assert_eq!(
        (&runtime["nodes"], &runtime["gpus_per_node"]),
        (&1.into(), &1.into())
    );
    s.runtime.nodes = 16;
    s.runtime.gpus_per_node = 8;
    let runtime = &config_json(&s)["runtime"];
    assert_eq!(
        (&runtime["nodes"], &runtime["gpus_per_node"]),
        (&16.into(), &8.into())
    );
    let files = unpack(&generate(&s).unwrap().env[BUNDLE_ENV]);
    let values = &files.iter().find(|(n, _)| n == "values.txt").unwrap().1;
    let values = String::from_utf8_lossy(values);
    assert!(values.contains("\nnodes=16\ngpus_per_node=8\n"), "{values}");
    // A runtime written before the fields existed is one process on one pod.
    let old: PodRuntime = serde_json::from_value(serde_json::json!({
        "api_base": "https://rest.runpod.io/v1", "python": "python3", "expect_gpu": true,
        "min_free_disk_gb": 20, "heartbeat_s": 30, "flush_s": 5, "progress_s": 10,
        "upload_reserve_s": 600, "pip_timeout_s": 1800, "final_budget_s": 6,
        "requirements": []
    }))
    .unwrap();
    assert_eq!((old.nodes, old.gpus_per_node), (1, 1));
}

#[test]
fn the_installer_cache_and_hub_model_reach_the_pod_as_data() {
    let values = |s: &PodScript| {
        let files = unpack(&generate(s).unwrap().env[BUNDLE_ENV]);
        let v = &files.iter().find(|(n, _)| n == "values.txt").unwrap().1;
        String::from_utf8_lossy(v).into_owned()
    };
    let mut s = script();
    s.runtime.uv = Some("/opt/uv/bin/uv".into());
    s.runtime.index_url = Some("https://pypi.example/simple".into());
    s.runtime.find_links = Some("/workspace/wheels".into());
    s.runtime.cache_dir = Some("/workspace/trainpod/cache".into());
    let v = values(&s);
    for line in [
        "uv=/opt/uv/bin/uv",
        &format!("uv_version={}", trainpod::script::UV_VERSION),
        "index_url=https://pypi.example/simple",
        "find_links=/workspace/wheels",
        "cache_dir=/workspace/trainpod/cache",
    ] {
        assert!(v.lines().any(|l| l == line), "{line} not in {v}");
    }
    // A Hub id is downloaded by the model stage; a path in the pod is not.
    let Training::Sft { model, .. } = &s.training else {
        panic!("an SFT script")
    };
    let hub = format!("hub_model={model}");
    assert!(v.lines().any(|l| l == hub), "{v}");
    if let Training::Sft { model, .. } = &mut s.training {
        *model = "/workspace/models/llama".into();
    }
    assert!(values(&s).lines().any(|l| l == "hub_model="));
    // A runtime written before the fields existed finds uv itself and caches under its home.
    let old: PodRuntime = serde_json::from_value(serde_json::json!({
        "api_base": "https://rest.runpod.io/v1", "python": "python3", "expect_gpu": true,
        "min_free_disk_gb": 20, "heartbeat_s": 30, "flush_s": 5, "progress_s": 10,
        "upload_reserve_s": 600, "pip_timeout_s": 1800, "final_budget_s": 6,
        "requirements": []
    }))
    .unwrap();
    assert_eq!((old.uv, old.cache_dir), (None, None));
}

#[test]
fn bad_lora_target_modules_are_refused_with_what_to_do() {
    let names = |n: usize| (0..n).map(|i| format!("m{i}")).collect::<Vec<_>>();
    let cases = [
        (vec![], "empty list"),
        (names(33), "over 32"),
        (vec!["q_proj".into(), "q-proj".into()], "\"q-proj\""),
        (vec!["q proj".into()], "'_' and '.'"),
        (vec![String::new()], "1 to 64 characters"),
        (vec!["a".repeat(65)], "1 to 64 characters"),
    ];
    for (given, want) in cases {
        let mut s = script();
        s.training = lora_with(LoraTargetModules::Names(given.clone()));
        let err = generate(&s).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("hyperparameters.lora_target_modules") && text.contains(want),
            "{given:?}: {text}"
        );
        assert!(
            text.contains("q_proj") || text.contains("all-linear"),
            "says what to do: {text}"
        );
    }
    let mut s = script();
    s.training = lora_with(LoraTargetModules::Names(names(32)));
    generate(&s).unwrap();
}

#[test]
fn lora_target_modules_read_from_json_say_the_field_when_wrong() {
    let parse = |v: serde_json::Value| serde_json::from_value::<LoraTargetModules>(v);
    assert_eq!(
        parse(serde_json::json!("all-linear")).unwrap(),
        LoraTargetModules::AllLinear
    );
    assert_eq!(
        parse(serde_json::json!(["q_proj", "v_proj"])).unwrap(),
        LoraTargetModules::Names(vec!["q_proj".into(), "v_proj".into()])
    );
    for bad in [
        serde_json::json!("all_linear"),
        serde_json::json!(5),
        serde_json::json!(["q_proj", 5]),
        serde_json::json!({"q_proj": true}),
    ] {
        let err = parse(bad.clone()).unwrap_err().to_string();
        assert!(
            err.contains("hyperparameters.lora_target_modules") && err.contains("all-linear"),
            "{bad}: {err}"
        );
    }
    // Hyperparameters written before the field existed keep every linear layer.
    let mut old = serde_json::to_value(Hyperparameters::for_method(Method::Lora)).unwrap();
    old.as_object_mut().unwrap().remove("lora_target_modules");
    let read: Hyperparameters = serde_json::from_value(old).unwrap();
    assert_eq!(read.lora_target_modules, LoraTargetModules::AllLinear);
}
