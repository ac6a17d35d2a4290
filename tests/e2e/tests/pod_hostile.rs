//! Hostile strings in every config field that reaches the pod's shell or Python arrive
//! literally, whichever shell (bash or dash) parses the start command: nothing is evaluated.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use trainpod::script::{
    Artifacts, DatasetSource, Endpoint, PodRuntime, PodScript, Secret, Training, generate,
};
use trainpod_e2e::{
    App, PodRun, create_pod, emulator_client, fresh_dir, sha256_hex, unix_now, wait_for_terminate,
};
use trainpod_emulator::Emulator;

const DUMP_ARGV: &str = "import json, os, sys; \
json.dump(sys.argv[1:], open(os.path.join(os.environ['TRAINPOD_WORK_DIR'], 'argv.json'), 'w'))";

#[derive(Clone, Debug)]
struct Hostile {
    argv: Vec<String>,
    token: String,
    query: String,
    dir_name: String,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let fixed = prop::sample::select(vec![
        "$(touch /tmp/trainpod-pwned)".to_owned(),
        "`touch /tmp/trainpod-pwned`".to_owned(),
        "'; touch /tmp/trainpod-pwned; '".to_owned(),
        "\"; exit 3; \"".to_owned(),
        "\\\\ \\n %s %n ${HOME} $0 !! *".to_owned(),
        "line one\nline two\r\n\ttab".to_owned(),
        "-rf".to_owned(),
        String::new(),
    ]);
    (
        prop::collection::vec(prop_oneof![fixed, "[^\\x00]{0,16}"], 1..5),
        "[!-~]{1,40}",
        "[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,24}",
        "[^\\x00-\\x1f\\x7f-\\x9f/]{1,24}",
    )
        .prop_filter("not a dot directory", |(_, _, _, d)| d != "." && d != "..")
        .prop_map(|(argv, token, query, dir_name)| Hostile {
            argv,
            token,
            query,
            dir_name,
        })
}

async fn run_case(h: &Hostile, shell: &str, n: usize) -> Result<(), TestCaseError> {
    let app = App::start().await;
    let emu = Emulator::start().await.unwrap();
    let home = fresh_dir(&format!("hostile-{shell}-{n}"));
    let data_dir = home.join(&h.dir_name);
    std::fs::create_dir_all(&data_dir).unwrap();
    let data = b"{\"text\":\"x\"}\n";
    let data_path = data_dir.join("data.jsonl");
    std::fs::write(&data_path, data).unwrap();
    let now = unix_now() as u64;
    let mut argv = vec!["python3".to_owned(), "-c".to_owned(), DUMP_ARGV.to_owned()];
    argv.extend(h.argv.iter().cloned());
    let metrics_target = format!("/metrics/job-h?{}", h.query);
    let script = PodScript {
        version: 1,
        job_id: "job-h".into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 600,
        telemetry: Some(Endpoint {
            url: format!("{}{metrics_target}", app.base),
            token: Secret::new(h.token.clone()),
        }),
        dataset: DatasetSource::Path {
            path: data_path.to_str().unwrap().into(),
            bytes: data.len() as u64,
            sha256: sha256_hex(data),
        },
        training: Training::Command { argv },
        artifacts: Artifacts::None,
        runtime: PodRuntime {
            api_base: emu.base_url(),
            expect_gpu: false,
            min_free_disk_gb: 0,
            heartbeat_s: 1,
            flush_s: 1,
            final_budget_s: 1,
            upload_reserve_s: 0,
            requirements: vec![],
            ..PodRuntime::default()
        },
        resume: None,
        eval_dataset: None,
    };
    let bundle = generate(&script).unwrap();
    let client = emulator_client(&emu);
    let pod_id = create_pod(&client, "trainpod-job-h", Some(&bundle)).await;
    let pod = PodRun::start_with_shell(shell, &bundle, &home, &pod_id, &emu.pod_key(&pod_id), &[]);
    let seen = wait_for_terminate(&emu, &pod_id, Duration::from_secs(60)).await;
    let output = pod.output();
    pod.kill_all().await;
    prop_assert!(seen.is_some(), "no terminate; pod said:\n{}", output);
    let fin: Value =
        serde_json::from_slice(&std::fs::read(home.join("state/final.json")).unwrap()).unwrap();
    prop_assert_eq!(&fin["status"], "succeeded", "pod said:\n{}", output);
    let got: Vec<String> =
        serde_json::from_slice(&std::fs::read(home.join("work/argv.json")).unwrap()).unwrap();
    prop_assert_eq!(&got, &h.argv);
    let first = app.state.lock().unwrap().metric_requests.first().cloned();
    let (target, auth) = first.expect("the pod posted metrics");
    prop_assert_eq!(target, metrics_target);
    prop_assert_eq!(auth, format!("Bearer {}", h.token));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_values_arrive_literally_under_bash_and_dash(h in hostile()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        for shell in ["bash", "dash"] {
            rt.block_on(run_case(&h, shell, n))?;
        }
        prop_assert!(!std::path::Path::new("/tmp/trainpod-pwned").exists());
    }
}
