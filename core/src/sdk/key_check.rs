//! `check_runpod_key`: what a RunPod key can do, told before an app saves it (a settings page's
//! "check" button), each problem with its fix in words a user can act on. Nothing is created or
//! changed: three reads and one refused write.

use serde::Serialize;

use super::Trainpod;
use crate::error::{ErrorKind, Result};
use crate::runpod::{ApiKey, Availability, Client, GpuType};

/// What a key may do with pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyAccess {
    /// Read and write: it can run jobs (an `All` key, or `Restricted` with pods read/write).
    ReadWrite,
    /// Read only: it sees pods but cannot create them (a `Read Only` key).
    ReadOnly,
    /// Valid, but with no access to pods (a `Restricted` key without it).
    NoPods,
    /// RunPod refused the key (mistyped, disabled or deleted).
    Refused,
}

/// One GPU type the key's account sees, with its price.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GpuSeen {
    /// The GPU type id (`NVIDIA GeForce RTX 4090`).
    pub gpu_id: String,
    /// Its memory, GB.
    pub memory_gb: u32,
    /// USD per GPU per hour on the secure cloud, when offered there.
    pub secure_price: Option<f64>,
    /// USD per GPU per hour on the community cloud, when offered there.
    pub community_price: Option<f64>,
    /// Whether any is free to rent now.
    pub available: bool,
}

/// What `check_runpod_key` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyCheck {
    /// RunPod accepted the key.
    pub valid: bool,
    /// What it may do with pods.
    pub access: KeyAccess,
    /// It can run trainpod's jobs (create and end pods).
    pub can_run_jobs: bool,
    /// The GPU types its account sees, cheapest available first (empty for a refused key).
    pub gpus: Vec<GpuSeen>,
    /// What is wrong and how to fix it, in plain words; empty when the key can run jobs.
    pub problem: String,
}

const SETTINGS: &str = "https://www.runpod.io/console/user/settings";

impl KeyCheck {
    fn refused(problem: String) -> KeyCheck {
        KeyCheck {
            valid: false,
            access: KeyAccess::Refused,
            can_run_jobs: false,
            gpus: Vec::new(),
            problem,
        }
    }
}

/// Checks `key` against the RunPod API that `template` talks to (its transport and base URL).
/// A refused key is an answer (`valid: false`), not an error; RunPod out of reach is an error.
pub async fn check_key_with(template: &Client, key: &str) -> Result<KeyCheck> {
    let Ok(key) = ApiKey::new(key) else {
        return Ok(KeyCheck::refused(format!(
            "this is not a RunPod API key (empty, or with spaces or other characters a key \
             never has): copy it again from {SETTINGS}"
        )));
    };
    let client = template.with_key(key);
    let access = match client.list_pods().await {
        Ok(_) => match client.may_write().await? {
            true => KeyAccess::ReadWrite,
            false => KeyAccess::ReadOnly,
        },
        Err(e) if e.kind() == ErrorKind::AuthInvalid => {
            return Ok(KeyCheck::refused(format!(
                "RunPod refused this key: it was mistyped, disabled or deleted; create a new \
                 one with All permission at {SETTINGS} and paste it here"
            )));
        }
        Err(e) if e.kind() == ErrorKind::Forbidden => KeyAccess::NoPods,
        Err(e) => return Err(e),
    };
    let gpus = match client.gpu_catalog().await {
        Ok(catalog) => seen(catalog),
        Err(e) if matches!(e.kind(), ErrorKind::Forbidden) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(KeyCheck {
        valid: true,
        access,
        can_run_jobs: access == KeyAccess::ReadWrite,
        gpus,
        problem: problem(access),
    })
}

fn problem(access: KeyAccess) -> String {
    match access {
        KeyAccess::ReadWrite => String::new(),
        KeyAccess::ReadOnly => format!(
            "this key is Read Only: it cannot create pods, so no job could run; edit it to All \
             (or Restricted with Pods read/write) at {SETTINGS}, or create a new one"
        ),
        KeyAccess::NoPods => format!(
            "this key is Restricted without access to pods: edit it at {SETTINGS} to give it \
             Pods read/write (or All), or create a new one"
        ),
        KeyAccess::Refused => "RunPod refused this key".to_owned(),
    }
}

/// The GPU types in the catalog, available ones first, cheapest first.
fn seen(catalog: Vec<GpuType>) -> Vec<GpuSeen> {
    let mut gpus: Vec<GpuSeen> = catalog
        .into_iter()
        .map(|g| GpuSeen {
            secure_price: (g.secure && g.price.secure > 0.0).then_some(g.price.secure),
            community_price: (g.community && g.price.community > 0.0).then_some(g.price.community),
            available: g.availability.is_some_and(|a| a != Availability::None),
            memory_gb: g.memory,
            gpu_id: g.id,
        })
        .collect();
    let price = |g: &GpuSeen| g.secure_price.or(g.community_price).unwrap_or(f64::MAX);
    gpus.sort_by(|a, b| {
        b.available
            .cmp(&a.available)
            .then(price(a).total_cmp(&price(b)))
            .then(a.gpu_id.cmp(&b.gpu_id))
    });
    gpus
}

/// Checks `key` against RunPod (or, with `base_url`, the emulator, a proxy, the local provider).
pub async fn check_runpod_key(key: &str, base_url: Option<&str>) -> Result<KeyCheck> {
    let placeholder = ApiKey::new("trainpod-key-check")?;
    let mut builder = Client::builder_with_reqwest(placeholder)?;
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    check_key_with(&builder.build()?, key).await
}

impl Trainpod {
    /// What `key` can do on the RunPod API this Trainpod talks to: valid or not, whether it can
    /// create pods (All, Restricted or Read Only, as far as the API tells without side effects),
    /// the GPU types its account sees, and each problem's fix. For a settings page, before the
    /// app saves the key.
    pub async fn check_runpod_key(&self, key: &str) -> Result<KeyCheck> {
        check_key_with(self.accounts.own(), key).await
    }
}
