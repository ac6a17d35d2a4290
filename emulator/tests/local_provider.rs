//! The local provider: pods run as real process groups (real `sh` and `bash`), their output
//! reaches the logs API and the workspace's log file, RunPod's variables are injected, terminate,
//! stop and dropping the emulator leave no process behind, an exiting container is restarted,
//! and billing accrues in real time at the catalog price; a vanished pod is SIGKILLed at once,
//! a blocked container is not spawned, a new start wipes the workspace unless a volume is at
//! `/workspace`, and `runpodctl` is on the pods' `PATH`. Every wait polls with a timeout.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use trainpod::ErrorKind;
use trainpod::runpod::{
    ApiKey, Client, CreatePodRequest, GpuRequest, LogQuery, LogSource, Method, PodAction,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, PullBackoff, RunPods, VanishCause};

const WAIT: Duration = support::WAIT;

fn client(emu: &Emulator, key: &str) -> Client {
    Client::builder_with_reqwest(ApiKey::new(key).unwrap())
        .unwrap()
        .base_url(emu.base_url())
        .build()
        .unwrap()
}

async fn start(run: RunPods) -> (Emulator, Client) {
    let emu = Emulator::start_with(Options {
        run_pods: Some(run),
        ..Options::default()
    })
    .await
    .unwrap();
    let c = client(&emu, ACCOUNT_KEY);
    (emu, c)
}

fn quick() -> RunPods {
    RunPods {
        restart_delay: Duration::from_millis(100),
        stop_grace: Duration::from_secs(1),
        ..RunPods::default()
    }
}

async fn create(c: &Client, name: &str, args: Option<&str>, env: &[(&str, &str)]) -> String {
    let request = CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        args: args.map(str::to_owned),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        gpu: Some(GpuRequest {
            id: "NVIDIA A40".into(),
            count: 2,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    c.create_pod(&request, &[]).await.unwrap().pod.id
}

/// Polls `f` every 20 ms until it gives a value or `WAIT` passes.
async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process that exists and is not a zombie (orphans may never be reaped here).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|st| st != "Z")
        })
        .unwrap_or(false)
}

/// The process group of a live process.
fn pgrp(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Live (non-zombie) members of a process group.
fn members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| alive(*pid) && pgrp(*pid) == Some(pgid))
        .collect()
}

/// The value of `name=` on a line of `text`.
fn field(text: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
}

fn log_file(emu: &Emulator, pod: &str) -> String {
    let local = emu.local_pod(pod).unwrap();
    std::fs::read_to_string(local.log_file).unwrap_or_default()
}

async fn billed(c: &Client, pod: &str) -> f64 {
    c.pod_billing(pod).await.unwrap()[0].total_amount
}

/// Waits until the emulator's clock has moved `secs` seconds.
async fn clock_moves(emu: &Emulator, secs: u64) {
    let from = emu.now();
    until("the clock to move", || {
        (emu.now() >= from + secs).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_pod_runs_its_start_command_with_runpods_variables() {
    let (emu, c) = start(RunPods {
        extra_env: vec![("FROM_OPTIONS".into(), "yes".into())],
        ..quick()
    })
    .await;
    let other = create(&c, "trainpod-other", None, &[]).await;
    let script = r#"bash -c 'echo "pod=$RUNPOD_POD_ID"; echo "key=$RUNPOD_API_KEY"; echo "home=$TRAINPOD_HOME"; echo "job=$JOB_NAME"; echo "opt=$FROM_OPTIONS"; echo "cwd=$PWD"; echo "err=on stderr" >&2; exec sleep 600'"#;
    let id = create(&c, "trainpod-job", Some(script), &[("JOB_NAME", "j 1")]).await;

    // Through the logs API (SSE), as the SDK reads telemetry.
    let mut stream = c
        .pod_logs(
            &id,
            &LogQuery {
                source: Some(LogSource::Container),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    let mut seen = String::new();
    tokio::time::timeout(WAIT, async {
        while ["pod=", "key=", "home=", "job=", "opt=", "cwd=", "err="]
            .iter()
            .any(|p| !seen.lines().any(|l| l.starts_with(p)))
        {
            let line = stream.next().await.unwrap().expect("the stream ended");
            seen.push_str(&line.line);
            seen.push('\n');
        }
    })
    .await
    .unwrap_or_else(|_| panic!("lines missing from the logs API: {seen:?}"));
    let local = emu.local_pod(&id).unwrap();
    assert_eq!(field(&seen, "pod").as_deref(), Some(id.as_str()));
    assert_eq!(field(&seen, "job").as_deref(), Some("j 1"));
    assert_eq!(field(&seen, "opt").as_deref(), Some("yes"));
    assert_eq!(field(&seen, "err").as_deref(), Some("on stderr"));
    assert_eq!(
        field(&seen, "home").map(std::path::PathBuf::from),
        Some(local.workspace.join("trainpod"))
    );
    assert_eq!(
        field(&seen, "cwd").map(std::path::PathBuf::from),
        Some(local.workspace.clone())
    );
    // The raw log file in the workspace has the same lines.
    let file = until("the log file", || {
        let f = log_file(&emu, &id);
        f.contains("err=on stderr").then_some(f)
    })
    .await;
    assert_eq!(field(&file, "key"), field(&seen, "key"));

    // The pod key works for this pod only.
    let key = field(&seen, "key").unwrap();
    assert_ne!(key, ACCOUNT_KEY);
    let scoped = client(&emu, &key);
    assert_eq!(scoped.get_pod(&id).await.unwrap().id, id);
    assert_eq!(
        scoped.get_pod(&other).await.err().map(|e| e.kind()),
        Some(ErrorKind::Forbidden)
    );

    // The container's main process leads its own process group.
    let pid = local.pid.unwrap();
    assert!(alive(pid));
    assert_eq!(pgrp(pid), Some(pid));
    assert_ne!(pgrp(pid), pgrp(std::process::id()));

    // The pod terminates itself with its own key, as the bootstrap does.
    scoped.terminate_pod(&id).await.unwrap();
    until("the container to end", || (!alive(pid)).then_some(())).await;
    assert_eq!(emu.pod_status(&id), Some("TERMINATED"));
}

#[tokio::test]
async fn terminate_kills_the_whole_group_and_billing_stops() {
    let (emu, c) = start(quick()).await;
    // A child, a grandchild, and a member that ignores SIGTERM (killed after the grace).
    let script = r#"bash -c '( sleep 600 & echo "grandchild=$!"; wait ) & echo "child=$!"; bash -c "trap \"\" TERM; echo stubborn=\$\$; exec sleep 601" & wait'"#;
    let id = create(&c, "trainpod-group", Some(script), &[]).await;
    let text = until("the pids in the log", || {
        let f = log_file(&emu, &id);
        ["grandchild", "child", "stubborn"]
            .iter()
            .all(|n| field(&f, n).is_some())
            .then_some(f)
    })
    .await;
    let pgid = emu.local_pod(&id).unwrap().pid.unwrap();
    let mut pids: Vec<u32> = ["grandchild", "child", "stubborn"]
        .iter()
        .map(|n| field(&text, n).unwrap().parse().unwrap())
        .collect();
    pids.push(pgid);
    for pid in &pids {
        assert!(alive(*pid), "{pid} runs");
        assert_eq!(pgrp(*pid), Some(pgid), "{pid} is in the pod's group");
    }
    clock_moves(&emu, 1).await;
    assert!(billed(&c, &id).await > 0.0);

    c.pod_action(&id, PodAction::Terminate).await.unwrap();
    until("the whole group to be gone", || {
        (pids.iter().all(|p| !alive(*p)) && members(pgid).is_empty()).then_some(())
    })
    .await;
    until("the pid to be cleared", || {
        emu.local_pod(&id).unwrap().pid.is_none().then_some(())
    })
    .await;

    let after = billed(&c, &id).await;
    clock_moves(&emu, 2).await;
    assert!(
        (billed(&c, &id).await - after).abs() < f64::EPSILON,
        "billing stopped"
    );
}

#[tokio::test]
async fn an_exiting_container_is_restarted_until_the_pod_is_terminated() {
    let (emu, c) = start(quick()).await;
    let id = create(
        &c,
        "trainpod-exits",
        Some(r#"sh -c 'echo "run $$"; exit 3'"#),
        &[],
    )
    .await;
    until("three restarts", || {
        (emu.pod_restarts(&id).unwrap() >= 3).then_some(())
    })
    .await;
    // Each run printed its line; the system log tells why it restarted.
    until("the runs in the log file", || {
        (log_file(&emu, &id).matches("run ").count() >= 3).then_some(())
    })
    .await;
    let mut system = c
        .pod_logs(
            &id,
            &LogQuery {
                source: Some(LogSource::System),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    let mut lines = Vec::new();
    tokio::time::timeout(WAIT, async {
        while !lines.iter().any(|l: &String| l.contains("restart 2")) {
            lines.push(system.next().await.unwrap().unwrap().line);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("restart lines missing: {lines:?}"));
    assert!(
        lines.iter().any(|l| l.contains("exited with code 3")),
        "{lines:?}"
    );

    // The control endpoint shows the counter too.
    let root = emu.base_url().trim_end_matches("/v2").to_owned();
    let body = reqwest_get(&format!("{root}/_emulator/pods/{id}")).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["restarts"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(
        v["workspace"].as_str().map(Path::new),
        Some(emu.local_pod(&id).unwrap().workspace.as_path())
    );

    c.delete_pod(&id).await.unwrap();
    until("the container to stay down", || {
        emu.local_pod(&id).unwrap().pid.is_none().then_some(())
    })
    .await;
    let restarts = emu.pod_restarts(&id).unwrap();
    clock_moves(&emu, 1).await;
    assert_eq!(
        emu.pod_restarts(&id),
        Some(restarts),
        "no restart after terminate"
    );
    assert!(emu.local_pod(&id).unwrap().pid.is_none());
}

async fn reqwest_get(url: &str) -> String {
    use trainpod::runpod::{HttpRequest, HttpSend, Method, ReqwestSender};
    let http = ReqwestSender::with_defaults().unwrap();
    let resp = http
        .send(HttpRequest {
            method: Method::Get,
            url: url.to_owned(),
            headers: vec![],
            body: None,
        })
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    String::from_utf8(resp.body).unwrap()
}

#[tokio::test]
async fn restarts_stop_at_the_cap_when_one_is_set() {
    let (emu, c) = start(RunPods {
        max_restarts: Some(2),
        ..quick()
    })
    .await;
    let id = create(&c, "trainpod-capped", Some("sh -c 'exit 1'"), &[]).await;
    until("two restarts", || {
        (emu.pod_restarts(&id) == Some(2)).then_some(())
    })
    .await;
    let mut system = c
        .pod_logs(
            &id,
            &LogQuery {
                source: Some(LogSource::System),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while !system
            .next()
            .await
            .unwrap()
            .unwrap()
            .line
            .contains("restart limit")
        {}
    })
    .await
    .unwrap();
    assert_eq!(emu.pod_restarts(&id), Some(2));
    assert!(emu.local_pod(&id).unwrap().pid.is_none());
    c.terminate_pod(&id).await.unwrap();
}

#[tokio::test]
async fn stop_kills_the_container_and_start_runs_it_again() {
    let (emu, c) = start(quick()).await;
    let id = create(
        &c,
        "trainpod-stop",
        Some(r#"sh -c 'echo "up $$"; exec sleep 600'"#),
        &[],
    )
    .await;
    let first = until("the container", || emu.local_pod(&id)?.pid).await;
    until("the first run", || {
        log_file(&emu, &id).contains("up ").then_some(())
    })
    .await;
    c.pod_action(&id, PodAction::Stop).await.unwrap();
    until("the container to stop", || (!alive(first)).then_some(())).await;
    assert_eq!(emu.pod_status(&id), Some("EXITED"));
    c.pod_action(&id, PodAction::Start).await.unwrap();
    let second = until("a new container", || {
        emu.local_pod(&id)?.pid.filter(|p| *p != first)
    })
    .await;
    until("the second run", || {
        (log_file(&emu, &id).matches("up ").count() == 2).then_some(())
    })
    .await;
    assert_eq!(emu.pod_restarts(&id), Some(0), "a start is not a restart");
    c.terminate_pod(&id).await.unwrap();
    until("the container to end", || (!alive(second)).then_some(())).await;
}

#[tokio::test]
async fn dropping_the_emulator_kills_every_pod() {
    let (emu, c) = start(quick()).await;
    let script = r#"bash -c 'sleep 600 & echo "bg=$!"; wait'"#;
    let a = create(&c, "trainpod-a", Some(script), &[]).await;
    let b = create(&c, "trainpod-b", Some(script), &[]).await;
    let mut pids = Vec::new();
    for id in [&a, &b] {
        let text = until("the background pid", || {
            let f = log_file(&emu, id);
            field(&f, "bg").map(|_| f)
        })
        .await;
        pids.push(field(&text, "bg").unwrap().parse::<u32>().unwrap());
        pids.push(emu.local_pod(id).unwrap().pid.unwrap());
    }
    let root = emu
        .local_pod(&a)
        .unwrap()
        .workspace
        .parent()
        .unwrap()
        .to_owned();
    assert!(pids.iter().all(|p| alive(*p)));
    drop(emu);
    until("every process to be gone", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    })
    .await;
    until("the temporary workspaces to be removed", || {
        (!root.exists()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn billing_accrues_in_real_time_at_the_catalog_price() {
    let (_emu, c) = start(quick()).await;
    let price = c
        .gpu_catalog()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.id == "NVIDIA A40")
        .unwrap()
        .price
        .secure;
    let wall = std::time::Instant::now();
    let id = create(&c, "trainpod-bill", Some("sleep 600"), &[]).await;
    let per_sec = price * 2.0 / 3600.0; // two GPUs
    let mut amount = 0.0;
    while amount < 3.0 * per_sec - 1e-12 {
        assert!(wall.elapsed() < WAIT, "billing did not accrue");
        tokio::time::sleep(Duration::from_millis(50)).await;
        amount = billed(&c, &id).await;
    }
    let secs = amount / per_sec;
    assert!((secs - secs.round()).abs() < 1e-6, "whole seconds: {secs}");
    assert!(
        secs <= wall.elapsed().as_secs_f64() + 1.0,
        "{secs} billed seconds in {:?}",
        wall.elapsed()
    );
    let pod = c.get_pod(&id).await.unwrap();
    assert!((pod.cost - price * 2.0).abs() < 1e-9);
    c.terminate_pod(&id).await.unwrap();
}

#[tokio::test]
async fn the_binary_runs_pods_and_kills_them_when_its_stdin_closes() {
    use tokio::io::AsyncBufReadExt;
    let root = std::env::temp_dir().join(format!("trainpod-emu-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut bin = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainpod-emulator"))
        .args(["--run-pods", "--shell", "bash", "--stop-grace-ms", "500"])
        .arg("--workspace-root")
        .arg(&root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(bin.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(WAIT, out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let c = Client::builder_with_reqwest(ApiKey::new(ACCOUNT_KEY).unwrap())
        .unwrap()
        .base_url(base.clone())
        .build()
        .unwrap();
    let id = create(
        &c,
        "trainpod-bin",
        Some(r#"bash -c 'echo "pid=$$"; exec sleep 600'"#),
        &[],
    )
    .await;
    let file = root.join(&id).join("container.log");
    let pid: u32 = until("the pod's pid", || {
        field(&std::fs::read_to_string(&file).ok()?, "pid")?
            .parse()
            .ok()
    })
    .await;
    assert!(alive(pid));
    drop(bin.stdin.take());
    let status = tokio::time::timeout(WAIT, bin.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    until("the pod's process to be gone", || {
        (!alive(pid)).then_some(())
    })
    .await;
    assert!(file.exists(), "a given workspace root is kept");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn the_binary_stops_on_sigterm_while_its_stdin_stays_open() {
    use tokio::io::AsyncBufReadExt;
    let mut bin = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainpod-emulator"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Held here: `wait` closes a child's stdin it still holds.
    let stdin = bin.stdin.take().unwrap();
    let mut out = tokio::io::BufReader::new(bin.stdout.take().unwrap()).lines();
    tokio::time::timeout(WAIT, out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(bin.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(WAIT, bin.wait())
        .await
        .expect("the emulator ignored SIGTERM")
        .unwrap();
    assert!(status.success());
    drop(stdin);
}

#[tokio::test]
async fn the_binary_refuses_local_flags_without_run_pods() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainpod-emulator"))
        .args(["--shell", "bash"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only with --run-pods"));
}

/// The usual end of a test: the emulator is dropped and its runtime ends right after, before
/// the supervisors run again. Nothing may survive that either.
#[test]
fn pods_die_when_the_emulator_and_its_runtime_end_together() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emu, pids) = rt.block_on(async {
        let (emu, c) = start(quick()).await;
        let id = create(
            &c,
            "trainpod-rt-end",
            Some(r#"bash -c 'sleep 600 & echo "bg=$!"; wait'"#),
            &[],
        )
        .await;
        let text = until("the background pid", || {
            let f = log_file(&emu, &id);
            field(&f, "bg").map(|_| f)
        })
        .await;
        let bg: u32 = field(&text, "bg").unwrap().parse().unwrap();
        let main = emu.local_pod(&id).unwrap().pid.unwrap();
        (emu, vec![bg, main])
    });
    assert!(pids.iter().all(|p| alive(*p)));
    drop(emu);
    drop(rt);
    let end = std::time::Instant::now() + WAIT;
    while pids.iter().any(|p| alive(*p)) {
        assert!(std::time::Instant::now() < end, "{pids:?} survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// trainpod's real start command, with a bundle holding a stand-in bootstrap: it unpacks under
/// `TRAINPOD_HOME`, and the bootstrap terminates its own pod through the API with the pod key,
/// as the real one does at the end of a job; then nothing of the pod is left running.
#[tokio::test]
async fn the_trainpod_start_command_unpacks_its_bundle_and_the_pod_terminates_itself() {
    let (emu, c) = start(quick()).await;
    let src = std::env::temp_dir().join(format!("trainpod-emu-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("bootstrap.sh"),
        r#"set -eu
echo "bootstrap from $(dirname "$0")"
sleep 600 &
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
  --data '{"action":"terminate"}' "$API_BASE/pods/$RUNPOD_POD_ID/action")
echo "terminate answered $code"
wait
"#,
    )
    .unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("tar -czf - -C \"$1\" bootstrap.sh | base64 -w0")
        .arg("sh")
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&src);
    let bundle = String::from_utf8(out.stdout).unwrap();
    let base = emu.base_url();
    let id = create(
        &c,
        "trainpod-self",
        Some(trainpod::script::START_COMMAND),
        &[
            (trainpod::script::BUNDLE_ENV, bundle.as_str()),
            ("API_BASE", base.as_str()),
        ],
    )
    .await;
    let local = emu.local_pod(&id).unwrap();
    until("the pod to terminate itself", || {
        (emu.pod_status(&id) == Some("TERMINATED")).then_some(())
    })
    .await;
    until("its processes to be gone", || {
        emu.local_pod(&id).unwrap().pid.is_none().then_some(())
    })
    .await;
    let log = log_file(&emu, &id);
    let bundle_dir = local.workspace.join("trainpod").join("bundle");
    assert!(
        log.contains(&format!("bootstrap from {}", bundle_dir.display())),
        "{log}"
    );
    // The pod's own key made the call (the group may die before curl's answer is printed).
    let key = format!("Bearer {}", emu.pod_key(&id));
    assert!(emu.requests().iter().any(|r| {
        r.uri == format!("/v2/pods/{id}/action")
            && r.status == 204
            && r.headers
                .iter()
                .any(|(n, v)| n == "authorization" && *v == key)
    }));
    assert!(bundle_dir.join("bootstrap.sh").exists());
    assert_eq!(emu.pod_restarts(&id), Some(0));
}

/// A pod created through raw v2 JSON (for fields the client does not send), its id.
async fn create_raw(emu: &Emulator, body: serde_json::Value) -> String {
    let pod = support::Api::new(emu).create(&body).await;
    pod["id"].as_str().unwrap().to_owned()
}

/// A create body whose start command is `script`, run by `sh` from the pod's environment.
fn scripted(name: &str, script: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "image": support::CU128_IMAGE,
        "gpu": {"id": "NVIDIA A40"}, "args": "sh -c \"$SCRIPT\"", "env": {"SCRIPT": script}})
}

#[tokio::test]
async fn a_vanished_pod_is_killed_at_once_and_never_restarted() {
    // A grace no test waits out: only an immediate SIGKILL ends a group that ignores SIGTERM.
    let (emu, _c) = start(RunPods {
        stop_grace: Duration::from_secs(600),
        ..quick()
    })
    .await;
    let id = create_raw(
        &emu,
        scripted(
            "trainpod-vanish",
            "trap '' TERM; echo up; while :; do sleep 1; done",
        ),
    )
    .await;
    until("the container to run", || {
        log_file(&emu, &id).contains("up").then_some(())
    })
    .await;
    let pgid = emu.local_pod(&id).unwrap().pid.unwrap();
    assert!(emu.vanish_pod(&id, VanishCause::Host));
    until("the group to be killed", || {
        members(pgid).is_empty().then_some(())
    })
    .await;
    until("the pid to be cleared", || {
        emu.local_pod(&id).unwrap().pid.is_none().then_some(())
    })
    .await;
    assert_eq!(emu.pod_restarts(&id), Some(0));
    assert_eq!(emu.container_running(&id), Some(false));
    assert_eq!(emu.pod_status(&id), Some("TERMINATED"));
}

#[tokio::test]
async fn blocked_containers_spawn_nothing_until_their_wait_ends() {
    let (emu, _c) = start(quick()).await;
    let script = "echo started; exec sleep 600";
    emu.faults(|f| f.old_cuda_hosts = true);
    let cuda = create_raw(&emu, scripted("trainpod-cuda", script)).await;
    emu.faults(|f| {
        f.old_cuda_hosts = false;
        f.pull_backoff = Some(PullBackoff { secs: Some(2) });
    });
    let before = emu.now();
    let pull = create_raw(&emu, scripted("trainpod-pull", script)).await;
    emu.faults(|f| {
        f.pull_backoff = None;
        f.no_container_secs = Some(2);
    });
    let stuck = create_raw(&emu, scripted("trainpod-stuck", script)).await;
    for pod in [&pull, &stuck] {
        // Polled closely: the process must not appear before its wait's second.
        until("the container to start", || {
            let seen = emu.local_pod(pod).unwrap().pid.is_some();
            seen.then(|| assert!(emu.now() >= before + 2, "{pod} started while blocked"))
        })
        .await;
        until("its output", || {
            log_file(&emu, pod).contains("started").then_some(())
        })
        .await;
    }
    until("the CUDA pod to read RUNNING", || {
        (emu.pod_status(&cuda) == Some("RUNNING")).then_some(())
    })
    .await;
    assert_eq!(emu.local_pod(&cuda).unwrap().pid, None);
    assert_eq!(emu.container_running(&cuda), Some(false));
    assert!(!log_file(&emu, &cuda).contains("started"));
    let api = support::Api::new(&emu);
    let lines = support::system_lines(&emu, &api, &cuda).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("unsatisfied condition: cuda>=12.8")),
        "{lines:?}"
    );
    let (_, got) = api.get(&format!("/pods/{cuda}")).await;
    assert!(got["runtime"].is_null(), "{got}");
    let (_, got) = api.get(&format!("/pods/{pull}")).await;
    assert!(got["runtime"]["uptime"].is_u64(), "{got}");
}

#[tokio::test]
async fn a_new_start_finds_the_workspace_wiped_unless_a_volume_is_at_workspace() {
    let (emu, _c) = start(RunPods {
        max_restarts: Some(1),
        ..quick()
    })
    .await;
    let script = "if [ -e marker ]; then echo kept; else echo fresh; fi; touch marker; \
                  mkdir -p sub && touch sub/file; exit 3";
    let wiped = create_raw(&emu, scripted("trainpod-wiped", script)).await;
    let mut body = scripted("trainpod-kept", script);
    body["mounts"] = serde_json::json!({"persistent": {"size": 20, "path": "/workspace"}});
    let kept = create_raw(&emu, body).await;
    let runs = |pod: &str, n: usize| {
        let log = log_file(&emu, pod);
        (log.lines().count() >= n).then_some(log)
    };
    // Restarted after its main process exited, then by the restart action.
    for pod in [&wiped, &kept] {
        until("the pod to read RUNNING", || {
            (emu.pod_status(pod) == Some("RUNNING")).then_some(())
        })
        .await;
        until("the restart after the exit", || runs(pod, 2)).await;
        until("the container to stay exited", || {
            emu.local_pod(pod).unwrap().pid.is_none().then_some(())
        })
        .await;
        let api = support::Api::new(&emu);
        let restart = serde_json::json!({"action": "restart"});
        let (status, _) = api
            .json(Method::Post, &format!("/pods/{pod}/action"), Some(&restart))
            .await;
        assert_eq!(status, 200);
    }
    let wiped_log = until("the third run", || runs(&wiped, 3)).await;
    let kept_log = until("the third run", || runs(&kept, 3)).await;
    assert_eq!(wiped_log, "fresh\nfresh\nfresh\n");
    assert_eq!(kept_log, "fresh\nkept\nkept\n");
}

#[tokio::test]
async fn runpodctl_on_the_path_terminates_the_pod_when_v2_refuses_its_key() {
    let (emu, _c) = start(quick()).await;
    emu.profile("pod-key-refused").unwrap();
    let script = r#"code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
  --data '{"action":"terminate"}' "$API_BASE/pods/$RUNPOD_POD_ID/action")
echo "v2 terminate answered $code"
runpodctl frobnicate pod x 2>/dev/null; echo "unknown command exit $?"
echo "runpodctl at $(command -v runpodctl)"
runpodctl remove pod "$RUNPOD_POD_ID"
exec sleep 600"#;
    let mut body = scripted("trainpod-ctl", script);
    body["env"]["API_BASE"] = serde_json::Value::from(emu.base_url());
    let id = create_raw(&emu, body).await;
    until("the pod to terminate itself", || {
        (emu.pod_status(&id) == Some("TERMINATED")).then_some(())
    })
    .await;
    until("its processes to be gone", || {
        emu.local_pod(&id).unwrap().pid.is_none().then_some(())
    })
    .await;
    let log = log_file(&emu, &id);
    assert!(log.contains("v2 terminate answered 401"), "{log}");
    assert!(log.contains("unknown command exit 1"), "{log}");
    let workspace = emu.local_pod(&id).unwrap().workspace;
    let at = log
        .lines()
        .find_map(|l| l.strip_prefix("runpodctl at "))
        .unwrap();
    assert!(
        at.ends_with("/runpodctl") && !at.starts_with(&workspace.display().to_string()),
        "{at}"
    );
    let calls = emu.runpodctl_calls();
    let removed = calls.iter().find(|c| c.args[0] == "remove").unwrap();
    assert_eq!(removed.args, ["remove", "pod", id.as_str()]);
    assert_eq!(removed.caller.as_deref(), Some(id.as_str()));
    assert_eq!(removed.exit_code, 0);
    assert_eq!(removed.stdout, format!("pod \"{id}\" removed"));
    assert!(
        removed
            .stderr
            .contains("is deprecated, use 'runpodctl pod delete <id>'")
    );
    assert_eq!(emu.pod_vanished(&id), None);
}
