//! The faults a test injects ([`Faults`]), their JSON form for `POST /_emulator/faults`, and the
//! named profiles that set several at once.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value};

/// Faults injected into the next matching requests, and the ways RunPod fails on its own.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// GPU type ids that answer "no capacity" on create, in every data center.
    pub no_capacity: HashSet<String>,
    /// (GPU type id, data center id) pairs with no capacity.
    pub no_capacity_at: HashSet<(String, String)>,
    /// How a create refused for capacity answers.
    pub capacity_style: CapacityStyle,
    /// The next creates answer 500 "Something went wrong" and create nothing.
    pub something_went_wrong: u32,
    /// Creates that create the pod and then answer 500.
    pub fail_after_create: u32,
    /// The next requests answer 429 with these `Retry-After` seconds.
    pub rate_limits: VecDeque<u64>,
    /// The minute quota of the `RateLimit` windows; `None`: a quota no test reaches.
    pub quota_per_minute: Option<u64>,
    /// The next requests answer with these statuses (401, 402, 403, 500, …) as problem+json.
    pub statuses: VecDeque<u16>,
    /// Delay before every answer.
    pub latency: Duration,
    /// Pods created while this is set vanish this long after their creation.
    pub vanish: Option<VanishAfter>,
    /// The account's balance reached $0 (set by a [`VanishCause::Balance`] vanish): creates
    /// answer 402 until the faults are reset. One balance for every account of the emulator:
    /// every account's creates answer 402.
    pub zero_balance: bool,
    /// Pods without a CUDA constraint land on the oldest host (CUDA 12.4), not the newest.
    pub old_cuda_hosts: bool,
    /// Pods created while this is set wait on Docker Hub's pull rate limit first.
    pub pull_backoff: Option<PullBackoff>,
    /// Pods created while this is set read RUNNING with no container for this many seconds.
    pub no_container_secs: Option<u64>,
    /// Every log stream is cut, without a clean end, after this many events.
    pub drop_log_streams_after: Option<u64>,
    /// REST v2 refuses pod-scoped keys with 401 (runpodctl still accepts them).
    pub pod_key_refused: bool,
    /// No data center has room for a cluster of more pods than this: a larger cluster is
    /// refused as a pod without capacity is. `None`: room for any cluster.
    pub cluster_capacity: Option<u32>,
    /// In clusters created while this is set, the member of this rank never starts: it stays
    /// PROVISIONING, with no container, and bills (a node that never comes up).
    pub cluster_stuck_rank: Option<u32>,
}

/// The wording and status of a capacity refusal on create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CapacityStyle {
    /// v2's 400 "There are no longer any instances available with the requested specifications".
    #[default]
    V2,
    /// 500 "This machine does not have the resources to deploy your pod. Please try a different
    /// machine".
    Machine,
}

/// Why a pod disappeared without the client deleting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VanishCause {
    /// Deleted by a person in the console.
    Console,
    /// Lost with its host machine.
    Host,
    /// The account balance reached $0: every pod without a network volume is terminated, every
    /// pod with one is stopped, and creates answer 402 from then on. The emulator keeps one
    /// balance, so this is every account's pods.
    Balance,
}

impl VanishCause {
    /// The name used in JSON (`console`, `host`, `balance`).
    pub fn as_str(self) -> &'static str {
        match self {
            VanishCause::Console => "console",
            VanishCause::Host => "host",
            VanishCause::Balance => "balance",
        }
    }

    /// The cause named `name` in JSON.
    pub fn parse(name: &str) -> Option<VanishCause> {
        match name {
            "console" => Some(VanishCause::Console),
            "host" => Some(VanishCause::Host),
            "balance" => Some(VanishCause::Balance),
            _ => None,
        }
    }
}

/// A vanish scheduled for every pod created while the fault is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VanishAfter {
    /// Emulator-clock seconds after the pod's creation.
    pub after_secs: u64,
    /// Why it vanishes.
    pub cause: VanishCause,
}

/// Image pulls refused by Docker Hub's anonymous pull limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PullBackoff {
    /// Seconds after which the pull succeeds; `None`: never.
    pub secs: Option<u64>,
}

/// The named profiles [`Faults::apply_profile`] knows.
pub const PROFILES: &[&str] = &[
    "pod-vanishes",
    "host-lost",
    "zero-balance",
    "old-cuda-host",
    "pull-backoff",
    "stuck-host",
    "capacity-machine-wording",
    "rate-limited",
    "log-stream-drops",
    "pod-key-refused",
    "cluster-node-stuck",
];

impl Faults {
    /// Set the faults of a named profile (one of [`PROFILES`]) on top of the current ones; the
    /// error lists the known names.
    pub fn apply_profile(&mut self, name: &str) -> Result<(), String> {
        let vanish = |cause| {
            Some(VanishAfter {
                after_secs: 5,
                cause,
            })
        };
        match name {
            "pod-vanishes" => self.vanish = vanish(VanishCause::Console),
            "host-lost" => self.vanish = vanish(VanishCause::Host),
            "zero-balance" => self.vanish = vanish(VanishCause::Balance),
            "old-cuda-host" => self.old_cuda_hosts = true,
            "pull-backoff" => self.pull_backoff = Some(PullBackoff { secs: None }),
            "stuck-host" => self.no_container_secs = Some(600),
            "capacity-machine-wording" => {
                self.capacity_style = CapacityStyle::Machine;
                self.no_capacity
                    .insert("NVIDIA GeForce RTX 4090".to_owned());
            }
            "rate-limited" => self.quota_per_minute = Some(30),
            "log-stream-drops" => self.drop_log_streams_after = Some(3),
            "pod-key-refused" => self.pod_key_refused = true,
            "cluster-node-stuck" => self.cluster_stuck_rank = Some(1),
            _ => {
                return Err(format!(
                    "unknown profile {name:?}; known: {}",
                    PROFILES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Apply the JSON form (`POST /_emulator/faults`): `reset` clears first, then `profile` applies,
/// then each other key: lists add to what is set, other values replace, `null` clears.
pub(crate) fn set_faults(f: &mut Faults, req: &Value) -> Result<(), String> {
    let Some(obj) = req.as_object() else {
        return Err("faults must be a JSON object".into());
    };
    // Checked on a copy, so that a refused request changes nothing.
    let mut next = f.clone();
    match obj.get("reset") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => next = Faults::default(),
        Some(_) => return Err(wrong("reset")),
    }
    match obj.get("profile") {
        None => {}
        Some(Value::String(name)) => next.apply_profile(name)?,
        Some(_) => return Err(wrong("profile")),
    }
    for (k, v) in obj {
        if !matches!(k.as_str(), "reset" | "profile") {
            set_one(&mut next, k, v).ok_or_else(|| wrong(k))?;
        }
    }
    *f = next;
    Ok(())
}

fn wrong(key: &str) -> String {
    format!("fault {key:?}: unknown, or a value of the wrong type")
}

/// One key of the JSON form; `None` when the key is unknown or its value wrong.
fn set_one(f: &mut Faults, key: &str, v: &Value) -> Option<()> {
    match key {
        "noCapacity" => f.no_capacity.extend(strings(v)?),
        "noCapacityAt" => f.no_capacity_at.extend(pairs(v)?),
        "capacityStyle" => {
            f.capacity_style = match v.as_str()? {
                "v2" => CapacityStyle::V2,
                "machine" => CapacityStyle::Machine,
                _ => return None,
            }
        }
        "somethingWentWrong" => f.something_went_wrong = u32::try_from(v.as_u64()?).ok()?,
        "failAfterCreate" => f.fail_after_create = u32::try_from(v.as_u64()?).ok()?,
        "rateLimits" => f.rate_limits.extend(numbers(v)?),
        "quotaPerMinute" => f.quota_per_minute = optional(v, |n| n.as_u64().filter(|q| *q > 0))?,
        "statuses" => f.statuses.extend(statuses(v)?),
        "latencyMs" => f.latency = Duration::from_millis(v.as_u64()?),
        "vanish" => f.vanish = optional(v, vanish_after)?,
        "oldCudaHosts" => f.old_cuda_hosts = v.as_bool()?,
        "pullBackoff" => f.pull_backoff = optional(v, pull_backoff)?,
        "noContainerSecs" => f.no_container_secs = optional(v, Value::as_u64)?,
        "dropLogStreamsAfter" => f.drop_log_streams_after = optional(v, Value::as_u64)?,
        "podKeyRefused" => f.pod_key_refused = v.as_bool()?,
        "clusterCapacity" => f.cluster_capacity = optional(v, as_u32)?,
        "clusterStuckRank" => f.cluster_stuck_rank = optional(v, as_u32)?,
        _ => return None,
    }
    Some(())
}

/// `null` clears (`Some(None)`); otherwise the parsed value, `None` when it does not parse.
fn optional<T>(v: &Value, parse: impl FnOnce(&Value) -> Option<T>) -> Option<Option<T>> {
    if v.is_null() {
        Some(None)
    } else {
        parse(v).map(Some)
    }
}

fn as_u32(v: &Value) -> Option<u32> {
    u32::try_from(v.as_u64()?).ok()
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn numbers(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(Value::as_u64).collect()
}

fn pairs(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_array()?
        .iter()
        .map(|p| match strings(p)?.as_slice() {
            [g, d] => Some((g.clone(), d.clone())),
            _ => None,
        })
        .collect()
}

fn statuses(v: &Value) -> Option<Vec<u16>> {
    numbers(v)?
        .into_iter()
        .map(|c| u16::try_from(c).ok().filter(|c| (400..600).contains(c)))
        .collect()
}

/// Only the named keys, so that a typo is refused rather than ignored.
fn object_with<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Map<String, Value>> {
    let obj = v.as_object()?;
    obj.keys()
        .all(|k| keys.contains(&k.as_str()))
        .then_some(obj)
}

/// `{"afterSecs": N, "cause": "console" | "host" | "balance"}` (cause: console by default).
fn vanish_after(v: &Value) -> Option<VanishAfter> {
    let obj = object_with(v, &["afterSecs", "cause"])?;
    let cause = match obj.get("cause") {
        None => VanishCause::Console,
        Some(c) => VanishCause::parse(c.as_str()?)?,
    };
    Some(VanishAfter {
        after_secs: obj.get("afterSecs")?.as_u64()?,
        cause,
    })
}

/// `{"secs": N}`, or `{}` / `{"secs": null}` for a pull that never succeeds.
fn pull_backoff(v: &Value) -> Option<PullBackoff> {
    let obj = object_with(v, &["secs"])?;
    let secs = match obj.get("secs") {
        None | Some(Value::Null) => None,
        Some(n) => Some(n.as_u64()?),
    };
    Some(PullBackoff { secs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_form_sets_clears_and_refuses_without_changing_anything() {
        let mut f = Faults::default();
        let set = json!({"profile": "host-lost", "vanish": {"afterSecs": 9, "cause": "host"},
            "pullBackoff": {"secs": null}, "quotaPerMinute": 5, "capacityStyle": "machine",
            "clusterCapacity": 3, "clusterStuckRank": 1});
        set_faults(&mut f, &set).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f.vanish,
            Some(VanishAfter {
                after_secs: 9,
                cause: VanishCause::Host
            })
        );
        assert_eq!(f.pull_backoff, Some(PullBackoff { secs: None }));
        assert_eq!(f.quota_per_minute, Some(5));
        assert_eq!(f.capacity_style, CapacityStyle::Machine);
        assert_eq!(
            (f.cluster_capacity, f.cluster_stuck_rank),
            (Some(3), Some(1))
        );
        for bad in [
            json!({"clusterStuckRank": -1}),
            json!({"clusterCapacity": "2"}),
            json!({"vanish": {"afterSecs": 1, "cause": "meteor"}}),
            json!({"pullBackoff": {"sec": 1}}),
            json!({"profile": "nope"}),
            json!({"quotaPerMinute": 0}),
            json!({"vanish": null, "bogus": 1}),
        ] {
            assert!(set_faults(&mut f, &bad).is_err(), "{bad}");
        }
        assert!(f.vanish.is_some(), "a refused request changed the faults");
        set_faults(&mut f, &json!({"vanish": null})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.vanish, None);
        set_faults(&mut f, &json!({"reset": true})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.quota_per_minute, None);
    }

    #[test]
    fn every_profile_applies_and_an_unknown_one_lists_them() {
        for name in PROFILES {
            let mut f = Faults::default();
            f.apply_profile(name).unwrap_or_else(|e| panic!("{e}"));
            assert_ne!(
                format!("{f:?}"),
                format!("{:?}", Faults::default()),
                "{name}"
            );
        }
        let err = Faults::default()
            .apply_profile("x")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("stuck-host") && err.contains("pod-key-refused"),
            "{err}"
        );
    }
}
