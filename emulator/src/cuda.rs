//! CUDA versions: the emulated hosts', a create's constraint on them, and what an image needs.

use serde_json::Value;

/// The CUDA versions of the emulated hosts, oldest first; every GPU type has one of each.
pub(crate) const HOST_CUDA: &[&str] = &["12.4", "12.8"];

/// `major.minor` as numbers, compared numerically (12.11 is above 12.2).
pub(crate) type Version = (u32, u32);

/// `12.8` → (12, 8); `None` unless it is `digits.digits`.
pub(crate) fn parse(v: &str) -> Option<Version> {
    let (a, b) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (digits(a) && digits(b)).then(|| Some((a.parse().ok()?, b.parse().ok()?)))?
}

/// A create's `gpu.minCudaVersion` or non-empty `gpu.allowedCudaVersions`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Constraint {
    None,
    AtLeast(Version),
    OneOf(Vec<Version>),
}

impl Constraint {
    /// From a create's `gpu` object, already checked against the schema. Both fields set is the
    /// spec's 400, answered by the caller.
    pub(crate) fn from_gpu(gpu: &Value) -> Result<Constraint, &'static str> {
        let allowed: Vec<Version> = gpu
            .get("allowedCudaVersions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| parse(v.as_str()?)).collect())
            .unwrap_or_default();
        let min = gpu
            .get("minCudaVersion")
            .and_then(Value::as_str)
            .and_then(parse);
        match (min, allowed.is_empty()) {
            (Some(_), false) => Err(
                "gpu.minCudaVersion and a non-empty gpu.allowedCudaVersions are mutually exclusive",
            ),
            (Some(m), true) => Ok(Constraint::AtLeast(m)),
            (None, false) => Ok(Constraint::OneOf(allowed)),
            (None, true) => Ok(Constraint::None),
        }
    }

    fn admits(&self, host: Version) -> bool {
        match self {
            Constraint::None => true,
            Constraint::AtLeast(m) => host >= *m,
            Constraint::OneOf(list) => list.contains(&host),
        }
    }
}

/// The host a pod lands on: the newest one the constraint admits, or the oldest when old hosts
/// are all that is free (`oldCudaHosts`); `None` when no host fits (a capacity refusal).
pub(crate) fn place(constraint: &Constraint, old_hosts: bool) -> Option<&'static str> {
    let mut fitting = HOST_CUDA
        .iter()
        .copied()
        .filter(|h| parse(h).is_some_and(|v| constraint.admits(v)));
    if old_hosts {
        fitting.next()
    } else {
        fitting.next_back()
    }
}

/// The CUDA an image needs, from a runpod/pytorch-style tag: `cu1281` or `cuda1281` is 12.8
/// (12.8.1), `cu124` 12.4, `cu1290` 12.9. The token must stand alone between non-word
/// characters (so `cudnn` is not one). `None` for an image without one (CPU, ROCm, NGC tags).
pub(crate) fn image_need(image: &str) -> Option<Version> {
    image
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find_map(tag_version)
}

fn tag_version(token: &str) -> Option<Version> {
    let lower = token.to_ascii_lowercase();
    let digits = lower
        .strip_prefix("cuda")
        .or_else(|| lower.strip_prefix("cu"))?;
    if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits[..2].parse().ok()?, digits[2..3].parse().ok()?))
}

/// `(12, 8)` → `12.8`.
pub(crate) fn show(v: Version) -> String {
    format!("{}.{}", v.0, v.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_tags_name_the_cuda_they_need() {
        let need = |i: &str| image_need(i).map(show);
        assert_eq!(
            need("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404").as_deref(),
            Some("12.8")
        );
        assert_eq!(
            need("runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel").as_deref(),
            None
        );
        assert_eq!(need("x/y:cu124").as_deref(), Some("12.4"));
        assert_eq!(need("runpod/base:0.7-cuda1290-u").as_deref(), Some("12.9"));
        assert_eq!(need("runpod/pytorch:1").as_deref(), None);
        assert_eq!(need("x/cudnn9:latest").as_deref(), None);
        assert_eq!(need("x/y:cu12811").as_deref(), None);
    }

    #[test]
    fn placement_follows_the_constraint_and_the_old_hosts_fault() {
        let c = |gpu| Constraint::from_gpu(&gpu).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(place(&c(json!({})), false), Some("12.8"));
        assert_eq!(place(&c(json!({})), true), Some("12.4"));
        assert_eq!(
            place(&c(json!({"minCudaVersion": "12.6"})), true),
            Some("12.8")
        );
        assert_eq!(place(&c(json!({"minCudaVersion": "12.9"})), false), None);
        let allowed = json!({"allowedCudaVersions": ["12.4"]});
        assert_eq!(place(&c(allowed), false), Some("12.4"));
        let floor_with_empty = json!({"allowedCudaVersions": [], "minCudaVersion": "12.1"});
        assert_eq!(place(&c(floor_with_empty), true), Some("12.4"));
        assert!(
            Constraint::from_gpu(
                &json!({"allowedCudaVersions": ["12.8"], "minCudaVersion": "12.1"})
            )
            .is_err()
        );
        assert_eq!(parse("12.11"), Some((12, 11)));
        assert_eq!(parse("12"), None);
        assert_eq!(parse("12.x"), None);
    }
}
