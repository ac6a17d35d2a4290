//! Validation of a create request before any round trip: every message names the field, the
//! value's problem and the accepted form.

use std::collections::{BTreeMap, HashSet};

use super::requests::{CreatePodRequest, Mounts, PodUpdate};
use crate::error::quote;
use crate::{Error, Result};

/// RunPod accepts at most this many environment variables on a pod.
pub const MAX_ENV_VARS: usize = 50;
/// The most GPUs one pod can have.
pub const MAX_GPU_COUNT: u32 = 8;
const MAX_NAME_LEN: usize = 128;
const MAX_IMAGE_LEN: usize = 255;
const MAX_CONTAINER_DISK_GB: u32 = 4000;
const MIN_VOLUME_GB: u32 = 10;
const MAX_VOLUME_GB: u32 = 4000;
const MAX_PORTS: usize = 20;
const MAX_ENV_VALUE_LEN: usize = 32 * 1024;

/// Check a create request; the first problem found is returned as [`crate::ErrorKind::InvalidInput`].
pub fn validate_create(req: &CreatePodRequest) -> Result<()> {
    validate_pod_name(&req.name)?;
    validate_image(&req.image)?;
    let gpu = req.gpu.as_ref().ok_or_else(|| {
        Error::invalid_input("gpu is required: set a GPU type id from the catalog and a count")
    })?;
    validate_gpu_id(&gpu.id)?;
    validate_gpu_count(gpu.count)?;
    if let Some(v) = &gpu.min_cuda_version {
        validate_cuda_version(v)?;
    }
    validate_container(&Container {
        args: req.args.as_deref(),
        disk: req.disk,
        mounts: req.mounts.as_ref(),
        ports: &req.ports,
        data_center_ids: &req.data_center_ids,
        env: &req.env,
    })
}

/// The container settings a pod and a cluster share (the spec's `BaseContainerConfig`, with
/// the volumes and the data centers), as a create carries them.
pub(crate) struct Container<'a> {
    pub args: Option<&'a str>,
    pub disk: Option<u32>,
    pub mounts: Option<&'a Mounts>,
    pub ports: &'a [String],
    pub data_center_ids: &'a [String],
    pub env: &'a BTreeMap<String, String>,
}

/// Checks a create's container settings, in the order every create reports them.
pub(crate) fn validate_container(c: &Container<'_>) -> Result<()> {
    if let Some(disk) = c.disk {
        validate_disk(disk)?;
    }
    if let Some(m) = c.mounts {
        validate_mounts(m)?;
    }
    validate_ports(c.ports)?;
    for dc in c.data_center_ids {
        validate_data_center_id(dc)?;
    }
    validate_env(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    if let Some(args) = c.args {
        validate_args(args)?;
    }
    Ok(())
}

/// Check a pod update like a create: every field set must be valid, and one must be set.
pub fn validate_update(update: &PodUpdate) -> Result<()> {
    if *update == PodUpdate::default() {
        return Err(Error::invalid_input(
            "the pod update changes nothing: set at least one field",
        ));
    }
    if let Some(name) = &update.name {
        validate_pod_name(name)?;
    }
    if let Some(image) = &update.image {
        validate_image(image)?;
    }
    if let Some(args) = &update.args {
        validate_args(args)?;
    }
    if let Some(disk) = update.disk {
        validate_disk(disk)?;
    }
    if let Some(ports) = &update.ports {
        validate_ports(ports)?;
    }
    if let Some(env) = &update.env {
        validate_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    }
    if let Some(m) = &update.mounts {
        validate_mounts(m)?;
    }
    for (what, id) in [
        ("registry", &update.registry),
        ("templateId", &update.template_id),
    ] {
        if let Some(id) = id
            && (id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
        {
            return Err(Error::invalid_input(format!(
                "{what} {} is invalid: use the id RunPod shows for it",
                quote(id)
            )));
        }
    }
    Ok(())
}

fn validate_disk(disk: u32) -> Result<()> {
    if !(1..=MAX_CONTAINER_DISK_GB).contains(&disk) {
        return Err(Error::invalid_input(format!(
            "disk is {disk} GB: the container disk must be 1 to {MAX_CONTAINER_DISK_GB} GB"
        )));
    }
    Ok(())
}

fn validate_args(args: &str) -> Result<()> {
    if args.contains('\0') || args.len() > 4096 {
        return Err(Error::invalid_input(
            "args must be at most 4096 bytes without NUL characters",
        ));
    }
    Ok(())
}

fn validate_mounts(m: &Mounts) -> Result<()> {
    if m.persistent.is_some() && !m.network.is_empty() {
        return Err(Error::invalid_input(
            "mounts: a pod takes a persistent volume or a network volume, not both",
        ));
    }
    if m.network.len() > 1 {
        return Err(Error::invalid_input(
            "mounts.network: RunPod mounts at most one network volume",
        ));
    }
    for n in &m.network {
        let id_ok = !n.volume_id.is_empty()
            && n.volume_id.len() <= 64
            && n.volume_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(Error::invalid_input(
                "mounts.network.volumeId must be a network volume id such as vol_abc123",
            ));
        }
        if !n.path.starts_with('/') || n.path.len() > 255 || n.path.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "mounts.network.path must be an absolute path such as /workspace",
            ));
        }
    }
    if let Some(p) = &m.persistent {
        if !(MIN_VOLUME_GB..=MAX_VOLUME_GB).contains(&p.size) {
            return Err(Error::invalid_input(format!(
                "mounts.persistent.size is {} GB: a volume must be {MIN_VOLUME_GB} to {MAX_VOLUME_GB} GB",
                p.size
            )));
        }
        if !p.path.starts_with('/') || p.path.len() > 255 || p.path.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "mounts.persistent.path must be an absolute path such as /workspace",
            ));
        }
    }
    Ok(())
}

/// A pod name: 1 to 128 characters of letters, digits, `-`, `_` and `.`.
pub(crate) fn validate_pod_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::invalid_input(format!(
            "pod name {} is invalid: use 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'",
            quote(name)
        )));
    }
    Ok(())
}

/// A GPU type id as the catalog spells it, for example `NVIDIA GeForce RTX 4090`.
pub(crate) fn validate_gpu_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.trim() == id
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_' | b'.'));
    if !ok {
        return Err(Error::invalid_input(format!(
            "GPU id {} is invalid: use an id from GET /v2/catalog/gpus, such as \"NVIDIA GeForce RTX 4090\"",
            quote(id)
        )));
    }
    Ok(())
}

/// A GPU count, 1 to 8.
pub(crate) fn validate_gpu_count(count: u32) -> Result<()> {
    if !(1..=MAX_GPU_COUNT).contains(&count) {
        return Err(Error::invalid_input(format!(
            "GPU count is {count}: a pod has 1 to {MAX_GPU_COUNT} GPUs"
        )));
    }
    Ok(())
}

/// A CUDA version as RunPod takes it on create: `major.minor`, such as `12.8`.
pub(crate) fn validate_cuda_version(v: &str) -> Result<()> {
    let ok = v.split_once('.').is_some_and(|(major, minor)| {
        [major, minor]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "CUDA version {v:?} is invalid: RunPod takes major.minor, such as \"12.8\""
        )))
    }
}

/// A container image reference: `[host[:port]/]path[:tag][@sha256:<64 hex>]`.
pub(crate) fn validate_image(image: &str) -> Result<()> {
    let fail = || {
        Error::invalid_input(format!(
            "image {} is not a valid image reference: use [registry/]repository[:tag][@sha256:digest], \
             for example runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
            quote(image)
        ))
    };
    if image.is_empty() || image.len() > MAX_IMAGE_LEN {
        return Err(fail());
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").ok_or_else(fail)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail());
        }
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(fail());
        }
    }
    let mut parts = name.split('/').peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        // The first component may be a registry host with a port and upper case.
        let is_host = first
            && parts.peek().is_some()
            && (part.contains('.') || part.contains(':') || part == "localhost");
        first = false;
        let ok = !part.is_empty()
            && if is_host {
                part.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
            } else {
                part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                }) && part.as_bytes()[0].is_ascii_alphanumeric()
            };
        if !ok {
            return Err(fail());
        }
    }
    Ok(())
}

/// Ports as `<1-65535>/http` or `<1-65535>/tcp`, at most 20, no duplicates.
pub(crate) fn validate_ports(ports: &[String]) -> Result<()> {
    if ports.len() > MAX_PORTS {
        return Err(Error::invalid_input(format!(
            "{} ports requested: at most {MAX_PORTS} can be exposed",
            ports.len()
        )));
    }
    let mut seen = HashSet::new();
    for port in ports {
        let parsed = port.split_once('/').and_then(|(n, proto)| {
            let n: u16 = n
                .parse()
                .ok()
                .filter(|n| *n > 0 && !port.starts_with('0'))?;
            matches!(proto, "http" | "tcp").then_some((n, proto))
        });
        let Some(key) = parsed else {
            return Err(Error::invalid_input(format!(
                "port {} is invalid: use <1-65535>/http or <1-65535>/tcp, such as 8888/http",
                quote(port)
            )));
        };
        if !seen.insert(key) {
            return Err(Error::invalid_input(format!("port {port} is listed twice")));
        }
    }
    Ok(())
}

/// A data center id such as `US-TX-3`.
pub(crate) fn validate_data_center_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Error::invalid_input(format!(
            "data center id {} is invalid: use an id such as US-TX-3 from GET /v2/catalog/datacenters",
            quote(id)
        )));
    }
    Ok(())
}

/// Environment variables: names match `^[A-Z_][A-Z0-9_]{0,63}$`, at most 50, values without NUL.
/// Values are never echoed in messages: they may be secrets.
pub(crate) fn validate_env<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let mut count = 0usize;
    for (name, value) in vars {
        count += 1;
        let bytes = name.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 64
            && (bytes[0].is_ascii_uppercase() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
        if !ok {
            return Err(Error::invalid_input(format!(
                "environment variable name {} is invalid: use upper-case letters, digits and '_', \
                 not starting with a digit, at most 64 characters",
                quote(name)
            )));
        }
        if value.contains('\0') || value.len() > MAX_ENV_VALUE_LEN {
            return Err(Error::invalid_input(format!(
                "the value of environment variable {name} must be at most {MAX_ENV_VALUE_LEN} bytes without NUL"
            )));
        }
    }
    if count > MAX_ENV_VARS {
        return Err(Error::invalid_input(format!(
            "{count} environment variables: RunPod accepts at most {MAX_ENV_VARS}; pass the rest \
             in the job config instead"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::requests::{GpuRequest, Mounts, PersistentMount};
    use super::*;
    use crate::ErrorKind;

    fn good() -> CreatePodRequest {
        CreatePodRequest {
            name: "trainpod-job_1".into(),
            image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
            gpu: Some(GpuRequest {
                id: "NVIDIA GeForce RTX 4090".into(),
                count: 1,
                min_cuda_version: None,
            }),
            ports: vec!["8888/http".into(), "22/tcp".into()],
            disk: Some(20),
            ..CreatePodRequest::default()
        }
    }

    fn refused(req: &CreatePodRequest) -> String {
        match validate_create(req) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidInput);
                e.message().to_owned()
            }
            Ok(()) => panic!("accepted {req:?}"),
        }
    }

    #[test]
    fn a_good_request_passes() {
        assert!(validate_create(&good()).is_ok());
    }

    #[test]
    fn images() {
        for ok in [
            "ubuntu",
            "runpod/pytorch:2.1",
            "ghcr.io/org/img:v1",
            "localhost:5000/a/b:c",
            "a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(validate_image(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Ubuntu",
            "a b",
            "img:",
            "img:-x",
            "a//b",
            "a@sha256:xyz",
            "$(id)",
        ] {
            assert!(validate_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn gpu_counts_ids_disks_ports_names() {
        let mut r = good();
        r.gpu = Some(GpuRequest {
            id: "A".into(),
            count: 0,
            min_cuda_version: None,
        });
        assert!(refused(&r).contains("1 to 8"));
        r.gpu = Some(GpuRequest {
            id: "A".into(),
            count: 9,
            min_cuda_version: None,
        });
        assert!(refused(&r).contains("1 to 8"));
        r.gpu = Some(GpuRequest {
            id: "A;rm".into(),
            count: 1,
            min_cuda_version: None,
        });
        assert!(refused(&r).contains("catalog"));
        for bad in ["12", "12.8.1", "v12.8", "12.x", ""] {
            r.gpu = Some(GpuRequest {
                id: "A".into(),
                count: 1,
                min_cuda_version: Some(bad.into()),
            });
            assert!(refused(&r).contains("major.minor"), "{bad}");
        }
        r = good();
        r.gpu = None;
        assert!(refused(&r).contains("gpu is required"));
        r = good();
        r.disk = Some(0);
        assert!(refused(&r).contains("disk"));
        r = good();
        r.mounts = Some(Mounts {
            persistent: Some(PersistentMount {
                size: 5,
                path: "/workspace".into(),
            }),
            network: vec![],
        });
        assert!(refused(&r).contains("volume must be 10"));
        for bad in ["8888", "0/http", "70000/tcp", "22/udp", "08/tcp"] {
            r = good();
            r.ports = vec![bad.into()];
            assert!(refused(&r).contains("port"), "{bad}");
        }
        r = good();
        r.ports = vec!["22/tcp".into(), "22/tcp".into()];
        assert!(refused(&r).contains("twice"));
        for bad in ["", "has space", "a/b", &"x".repeat(129)] {
            r = good();
            r.name = bad.into();
            assert!(refused(&r).contains("pod name"));
        }
        r = good();
        r.data_center_ids = vec!["us-tx-3".into()];
        assert!(refused(&r).contains("data center"));
    }

    #[test]
    fn env_names_count_and_values_are_never_echoed() {
        let mut r = good();
        r.env.insert("GOOD_NAME_1".into(), "v".into());
        r.env.insert("_X".into(), "v".into());
        assert!(validate_create(&r).is_ok());
        for bad in ["lower", "1ABC", "A-B", "", &"A".repeat(65)] {
            let mut r = good();
            r.env.insert(bad.into(), "s3cret".into());
            let msg = refused(&r);
            assert!(msg.contains("environment variable name"), "{bad}");
            assert!(!msg.contains("s3cret"));
        }
        let mut r = good();
        r.env.insert("NUL".into(), "a\0SECRETVALUE".into());
        assert!(!refused(&r).contains("SECRETVALUE"));
        let mut r = good();
        for i in 0..=MAX_ENV_VARS {
            r.env.insert(format!("V{i}"), String::new());
        }
        assert!(refused(&r).contains("at most 50"));
        r.env.remove("V0");
        assert!(validate_create(&r).is_ok());
    }
}
