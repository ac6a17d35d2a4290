//! Many users on their own RunPod accounts: one `Trainpod` with a credentials resolver, two
//! accounts on one emulator, each job's pods on its own account, a reconciler that goes on past
//! an account whose key was revoked, the key check, and the final bill beside the estimate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use trainpod::clock::ManualClock;
use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::runpod::{ApiKey, Client};
use trainpod::sdk::{Credentials, DatasetRef, JobSpec, KeyAccess, Trainpod};
use trainpod::token::{IssueRequest, KeyRing, Purpose, generate_secret};
use trainpod::{ErrorKind, Result};
use trainpod_e2e::{create_pod, fresh_dir};
use trainpod_emulator::{Emulator, Permission};

const T0: u64 = 1_900_000_000;
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

/// The app's secrets table: account id to key, changed as users save or lose their keys.
#[derive(Default)]
struct Vault(Mutex<HashMap<String, String>>);

#[async_trait::async_trait]
impl Credentials for Vault {
    async fn runpod_api_key(&self, account: &str) -> Result<Option<String>> {
        if account == "broken" {
            return Err(trainpod::Error::new(ErrorKind::Internal, "vault is down"));
        }
        Ok(self.0.lock().unwrap().get(account).cloned())
    }
}

struct World {
    emu: Emulator,
    tp: Trainpod,
    clock: Arc<ManualClock>,
    keys: HashMap<&'static str, String>,
}

async fn world(name: &str) -> World {
    let emu = Emulator::start().await.unwrap();
    let vault = Arc::new(Vault::default());
    let mut keys = HashMap::new();
    for account in ["alice", "bob"] {
        let key = emu.add_account(account).unwrap();
        vault.0.lock().unwrap().insert(account.into(), key.clone());
        keys.insert(account, key);
    }
    let dir = fresh_dir(&format!("accounts-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = Trainpod::builder()
        .ignore_env()
        .runpod_base_url(emu.base_url())
        .credentials(vault)
        .allow_loopback(true)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(&datasets)
        .reconcile_policy(ReconcilePolicy {
            bill_after_secs: 0,
            ..ReconcilePolicy::default()
        })
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    World {
        emu,
        tp,
        clock,
        keys,
    }
}

fn spec(job: &str, user: &str, account: Option<&str>) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        account: account.map(Into::into),
        ..JobSpec::new(
            user,
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            2.0,
        )
    }
}

async fn deploy(w: &World, job: &str, user: &str) -> String {
    let plan = w.tp.plan(&spec(job, user, Some(user))).await.unwrap();
    let status = w.tp.deploy(&plan).await.unwrap();
    assert_eq!(status.account, user);
    status.pod_id.unwrap()
}

fn client_of(w: &World, account: &str) -> Client {
    Client::builder_with_reqwest(ApiKey::new(w.keys[account].clone()).unwrap())
        .unwrap()
        .base_url(w.emu.base_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_job_runs_and_ends_on_its_own_account() {
    let w = world("own").await;
    let a = deploy(&w, "job-a", "alice").await;
    let b = deploy(&w, "job-b", "bob").await;
    assert_eq!(w.emu.pod_account(&a).as_deref(), Some("alice"));
    assert_eq!(w.emu.pod_account(&b).as_deref(), Some("bob"));
    // Neither account sees the other's pod.
    let alice = client_of(&w, "alice");
    assert_eq!(
        alice.get_pod(&b).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let listed: Vec<String> = alice
        .list_pods()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, vec![a.clone()]);
    // Cancel acts with the job's own key.
    let cancelled = w.tp.cancel("job-b").await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(w.emu.pod_status(&b), Some("TERMINATED"));
    assert_ne!(w.emu.pod_status(&a), Some("TERMINATED"));
}

#[tokio::test]
async fn a_job_names_an_account_the_builder_can_act_on() {
    let w = world("refusals").await;
    // No key of its own: a job must name its account, before anything is stored.
    let err =
        w.tp.plan(&spec("job-none", "alice", None))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("account"), "{err}");
    assert!(w.tp.status("job-none").await.is_err(), "nothing was stored");
    // An account whose user saved no key is told so, in words to act on.
    let err =
        w.tp.plan(&spec("job-c", "carol", Some("carol")))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthInvalid);
    assert!(err.message().contains("settings"), "{err}");
    // The app's own failure is retryable, and says it is the app's.
    let err =
        w.tp.plan(&spec("job-x", "x", Some("broken")))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsUnavailable);
    assert!(err.is_retryable());
    assert!(err.message().contains("vault is down"), "{err}");
}

#[tokio::test]
async fn reconcile_goes_on_past_an_account_it_cannot_reach() {
    let w = world("revoked").await;
    deploy(&w, "job-a", "alice").await;
    let b = deploy(&w, "job-b", "bob").await;
    // An orphan on alice's account, and bob's key revoked in the console.
    let orphan = create_pod(&client_of(&w, "alice"), "trainpod-ghost", None).await;
    assert!(w.emu.revoke_key(&w.keys["bob"]));
    let actions = w.tp.reconcile().await.unwrap();
    let seen: Vec<_> = actions
        .iter()
        .map(|a| (a.job_id.as_deref(), a.reason))
        .collect();
    assert!(seen.contains(&(None, "orphan")), "{seen:?}");
    let unmanaged = actions
        .iter()
        .find(|a| a.reason == "account_unavailable")
        .expect("bob's job is reported");
    assert_eq!(unmanaged.job_id.as_deref(), Some("job-b"));
    assert_eq!(unmanaged.pod_id.as_deref(), Some(b.as_str()));
    let error = unmanaged.error.as_ref().unwrap();
    assert_eq!(error.code, "AUTH_INVALID");
    assert!(error.message.contains("\"bob\""), "{}", error.message);
    assert!(!error.message.contains(&w.keys["bob"]), "no key in errors");
    assert_eq!(w.emu.pod_status(&orphan), Some("TERMINATED"));
}

#[tokio::test]
async fn the_key_check_tells_what_a_key_can_do() {
    let w = world("check").await;
    let good = w.tp.check_runpod_key(&w.keys["alice"]).await.unwrap();
    assert!(good.valid && good.can_run_jobs, "{good:?}");
    assert_eq!(good.access, KeyAccess::ReadWrite);
    assert!(!good.gpus.is_empty() && good.problem.is_empty());
    assert!(good.gpus[0].available, "available GPUs come first");

    w.emu
        .add_key("alice", "rpa_alice_readonly", Permission::ReadOnly)
        .unwrap();
    let read_only = w.tp.check_runpod_key("rpa_alice_readonly").await.unwrap();
    assert_eq!(read_only.access, KeyAccess::ReadOnly);
    assert!(read_only.valid && !read_only.can_run_jobs);
    assert!(
        read_only.problem.contains("Read Only"),
        "{}",
        read_only.problem
    );

    w.emu
        .add_key("alice", "rpa_alice_none", Permission::None)
        .unwrap();
    let none = w.tp.check_runpod_key("rpa_alice_none").await.unwrap();
    assert_eq!(none.access, KeyAccess::NoPods);
    assert!(!none.can_run_jobs && none.problem.contains("Restricted"));

    for bad in ["rpa_never_issued", "  ", "two words"] {
        let refused = w.tp.check_runpod_key(bad).await.unwrap();
        assert!(!refused.valid, "{bad:?}");
        assert_eq!(refused.access, KeyAccess::Refused);
        assert!(!refused.problem.is_empty());
    }
    // Nothing was created or changed by any check.
    assert!(client_of(&w, "alice").list_pods().await.unwrap().is_empty());
}

/// A final status for `job`'s first attempt, as its pod sends it.
fn final_batch(tp: &Trainpod, job: &str, user: &str) -> (String, Vec<u8>) {
    let mut req = IssueRequest::new(Purpose::MetricsWrite, user, job).ttl_secs(3600);
    req.epoch = Some(1);
    let token = tp.tokens().issue(&req).unwrap().token;
    let event = json!({"n": 1, "source": "bootstrap", "type": "final", "ts": T0 + 600,
        "stage": "done", "data": {"status": "succeeded", "exit_code": 0}});
    let body = json!({"job": job, "attempt": 1, "batch": 1, "events": [event]});
    (
        format!("Bearer {}", token.expose()),
        serde_json::to_vec(&body).unwrap(),
    )
}

#[tokio::test]
async fn the_final_bill_is_read_from_the_jobs_account_and_calibrates_the_next_plan() {
    let w = world("bill").await;
    deploy(&w, "job-a", "alice").await;
    // Ten minutes of billing on the emulator's clock, then the pod's final status.
    w.emu.advance(600);
    w.clock.set(T0 + 600);
    let (auth, body) = final_batch(&w.tp, "job-a", "alice");
    let out =
        w.tp.ingest_metrics("job-a", Some(&auth), &body)
            .await
            .unwrap();
    assert_eq!(out.job.state, JobState::Succeeded);
    assert_eq!(w.tp.status("job-a").await.unwrap().billed_usd, None);

    w.clock.set(T0 + 700);
    let actions = w.tp.reconcile().await.unwrap();
    assert!(
        actions
            .iter()
            .any(|a| a.reason == "billed" && a.job_id.as_deref() == Some("job-a")),
        "{actions:?}"
    );
    let status = w.tp.status("job-a").await.unwrap();
    let billed = status.billed_usd.expect("billed");
    let (low, high) = status.estimate_usd.unwrap();
    // The emulator bills the pod's price for its ten minutes.
    assert!(
        (billed - status.price_per_hour * 600.0 / 3600.0).abs() < 1e-6,
        "{billed}"
    );
    assert_eq!(status.cost_usd, billed, "the bill is what the job cost");
    assert!(low > 0.0 && high >= low);
    // Billed once: the next pass has nothing to do for it.
    let again = w.tp.reconcile().await.unwrap();
    assert!(!again.iter().any(|a| a.reason == "billed"), "{again:?}");

    // The next plan on that GPU learns how far the bill was from its estimate.
    let gpu = w.tp.stored_plan("job-a").await.unwrap().gpu.gpu_id;
    let next =
        w.tp.plan(&JobSpec {
            gpus: vec![gpu],
            ..spec("job-a2", "alice", Some("alice"))
        })
        .await
        .unwrap();
    let ratio = next.estimate.billed_ratio.expect("calibrated");
    let expected = (billed / ((low + high) / 2.0)).clamp(0.5, 3.0);
    assert!((ratio - expected).abs() < 1e-9, "{ratio} vs {expected}");

    // The same job again, planned with the calibrated estimate: what it teaches is measured
    // against the estimate before calibration, so the same bill teaches the same ratio.
    w.tp.deploy(&next).await.unwrap();
    w.emu.advance(600);
    w.clock.set(T0 + 1300);
    let (auth, body) = final_batch(&w.tp, "job-a2", "alice");
    w.tp.ingest_metrics("job-a2", Some(&auth), &body)
        .await
        .unwrap();
    w.clock.set(T0 + 1400);
    w.tp.reconcile().await.unwrap();
    let gpu = &next.gpu.gpu_id;
    let ratios = w.tp.store().bill_ratios(gpu, "lora", 5).await.unwrap();
    assert_eq!(ratios.len(), 2, "{ratios:?}");
    assert!((ratios[0] - ratios[1]).abs() < 1e-9, "{ratios:?}");
}
