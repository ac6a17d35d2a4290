//! `trainpod doctor`: whether this setup can run jobs, one check at a time: the config file,
//! the signing keys, the store, the provider (the local provider, or RunPod with its key and the
//! cheapest GPU it can rent) and the pods' Python. Exits with the code of the first failure.

use serde::Serialize;
use serde_json::json;
use trainpod::Result;
use trainpod::sdk::{KeyCheck, check_runpod_key};

use crate::exit;
use crate::output::outln;
use crate::settings::Settings;

#[derive(Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    /// The exit code this failure gives (0 when it passed).
    exit_code: u8,
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        detail: detail.into(),
        exit_code: exit::OK,
    }
}

fn fail(name: &'static str, detail: impl Into<String>, exit_code: u8) -> Check {
    Check {
        name,
        ok: false,
        detail: detail.into(),
        exit_code,
    }
}

fn failed(name: &'static str, err: &trainpod::Error) -> Check {
    fail(
        name,
        format!("{} [{}]", err.message(), err.code()),
        exit::code(err.kind()),
    )
}

pub async fn run(settings: &Settings, runpod: bool, json: bool) -> Result<u8> {
    let mut checks = vec![
        config(settings),
        signing_keys(settings),
        store(settings).await,
    ];
    let (provider, key_check) = provider(settings, runpod).await;
    checks.push(provider);
    checks.push(pod_python(settings));
    let code = checks
        .iter()
        .find(|c| !c.ok)
        .map_or(exit::OK, |c| c.exit_code);
    if json {
        crate::output::json(&json!({
            "ok": code == exit::OK,
            "checks": checks,
            "key_check": key_check,
        }));
    } else {
        for c in &checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            outln!("{mark} {:<13} {}", c.name, c.detail);
        }
    }
    Ok(code)
}

fn config(settings: &Settings) -> Check {
    match &settings.config_path {
        Some(path) => pass("config", format!("read {}", path.display())),
        None => pass("config", "no config file: flags and environment only"),
    }
}

fn signing_keys(settings: &Settings) -> Check {
    match settings.key_ring() {
        Ok(ring) => pass(
            "signing keys",
            format!(
                "{} key(s), {} active",
                ring.keys().len(),
                ring.active().kid()
            ),
        ),
        Err(e) => failed("signing keys", &e),
    }
}

async fn store(settings: &Settings) -> Check {
    // Its URL is not shown: it may hold a database password.
    match trainpod::store::open(&settings.store_url).await {
        Ok(store) => pass("store", format!("the {} store opens", store.backend())),
        Err(e) => failed("store", &e),
    }
}

/// The local provider when one is set, else RunPod with the key.
async fn provider(settings: &Settings, runpod: bool) -> (Check, Option<KeyCheck>) {
    let local = settings.local_url.as_deref().filter(|_| !runpod);
    let key = match (local, &settings.runpod_api_key) {
        (Some(_), _) => settings.api_key(),
        (None, Some(key)) => Some(key.expose()),
        (None, None) if runpod => {
            let check = fail(
                "runpod",
                "no RunPod key: set RUNPOD_API_KEY (https://www.runpod.io/console/user/settings)",
                exit::AUTH,
            );
            return (check, None);
        }
        (None, None) => {
            let check = pass(
                "provider",
                "no RunPod key and no local provider: jobs can run on the local provider \
                 (`trainpod local`, then --local-url); `trainpod doctor --runpod` checks a key",
            );
            return (check, None);
        }
    };
    let base = local.or(settings.runpod_url.as_deref());
    let name = if local.is_some() { "local" } else { "runpod" };
    match check_runpod_key(key.unwrap_or_default(), base).await {
        Ok(check) if check.can_run_jobs => {
            let cheapest = check.gpus.iter().find(|g| g.available).map_or(
                "no GPU available now".to_owned(),
                |g| {
                    format!(
                        "cheapest available GPU: {} ({} GB) at ${:.2}/h",
                        g.gpu_id,
                        g.memory_gb,
                        g.secure_price.or(g.community_price).unwrap_or(0.0)
                    )
                },
            );
            let at = local.map_or(String::new(), |u| format!(" at {u}"));
            (
                pass(name, format!("the key can run jobs{at}; {cheapest}")),
                Some(check),
            )
        }
        Ok(check) => (fail(name, check.problem.clone(), exit::AUTH), Some(check)),
        Err(e) => (failed(name, &e), None),
    }
}

fn pod_python(settings: &Settings) -> Check {
    match (&settings.pod_python, &settings.local_url) {
        (Some(python), _) if std::path::Path::new(python).is_absolute() => {
            if std::path::Path::new(python).exists() {
                pass("pod python", python.clone())
            } else {
                fail(
                    "pod python",
                    format!("{python} does not exist: create the venv (scripts/train-venv.sh)"),
                    exit::INVALID_INPUT,
                )
            }
        }
        (Some(python), _) => pass("pod python", format!("{python} (from the pod's PATH)")),
        (None, Some(_)) => pass(
            "pod python",
            "python3 from PATH: local pods need the training stack; set --pod-python to a venv \
             that has it",
        ),
        (None, None) => pass("pod python", "the image's python3"),
    }
}
