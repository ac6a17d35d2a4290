//! Packs the templates and the values into one base64 tar.gz that travels in an env variable.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use base64::Engine;
use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};

use super::config::{
    Artifacts, DatasetSource, Method, PodScript, QLORA_EXTRA, Training, UV_VERSION,
};
use super::{TEMPLATES, validate};
use crate::error::{Error, Result};
use crate::hex;

/// The env variable carrying the bundle.
pub const BUNDLE_ENV: &str = "TRAINPOD_BUNDLE";

/// The bound on the encoded bundle. RunPod documents no size limit for env values or `args`;
/// Linux refuses any single environment string over 128 KiB (MAX_ARG_STRLEN) at `execve`, so
/// half of that keeps a margin for whatever RunPod adds. A typical bundle is about 17 KiB.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024;

/// The container start command (`args`). Constant: it unpacks the bundle from the environment
/// and hands over to the bootstrap. If unpacking fails it removes the pod and waits, rather
/// than exit into RunPod's restart loop.
pub const START_COMMAND: &str = "bash -c 'd=\"${TRAINPOD_HOME:-/workspace/trainpod}/bundle\"; \
mkdir -p \"$d\" && printf %s \"$TRAINPOD_BUNDLE\" | base64 -d | tar -xzf - -C \"$d\" && \
exec bash \"$d/bootstrap.sh\"; echo \"trainpod: the bundle did not unpack\" >&2; \
runpodctl remove pod \"$RUNPOD_POD_ID\"; exec sleep infinity'";

/// What goes into the pod: the start command and the env variables to set.
#[derive(Clone)]
pub struct Bundle {
    /// The container start command, for the pod's `args`.
    pub start_command: String,
    /// Env variables for the pod (the bundle itself). RunPod adds `RUNPOD_POD_ID` and the
    /// pod-scoped `RUNPOD_API_KEY`.
    pub env: BTreeMap<String, String>,
    /// Size of the encoded bundle in bytes.
    pub bytes: usize,
    /// sha256 of the encoded bundle, to record with the job.
    pub sha256: String,
}

impl fmt::Debug for Bundle {
    // The bundle holds the job's tokens: show its size and digest only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("start_command", &self.start_command)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("bytes", &self.bytes)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// Validates the script and builds its bundle, refusing one over [`MAX_BUNDLE_BYTES`].
pub fn generate(script: &PodScript) -> Result<Bundle> {
    validate(script)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(tar_gz(&files(script)?)?);
    if encoded.len() > MAX_BUNDLE_BYTES {
        return Err(Error::invalid_input(format!(
            "pod script: the bundle is {} bytes encoded, over the {MAX_BUNDLE_BYTES}-byte bound; \
             shorten the custom command or stage large inputs with the dataset instead",
            encoded.len()
        )));
    }
    Ok(Bundle {
        start_command: START_COMMAND.to_owned(),
        bytes: encoded.len(),
        sha256: hex::encode(&Sha256::digest(encoded.as_bytes())),
        env: BTreeMap::from([(BUNDLE_ENV.to_owned(), encoded)]),
    })
}

/// The files of the bundle, in archive order: (name, mode, contents).
pub(crate) fn files(script: &PodScript) -> Result<Vec<(&'static str, u32, Vec<u8>)>> {
    let config = serde_json::to_vec_pretty(script).map_err(|e| {
        Error::new(
            crate::ErrorKind::Internal,
            format!("pod config did not serialize: {e}"),
        )
    })?;
    let mut files: Vec<(&'static str, u32, Vec<u8>)> = TEMPLATES
        .iter()
        .map(|(n, m, t)| (*n, *m, without_comment_lines(t).into_bytes()))
        .collect();
    files.push(("config.json", 0o600, config));
    files.push(("values.txt", 0o600, values(script).into_bytes()));
    files.push(("requirements.txt", 0o644, requirements(script).into_bytes()));
    Ok(files)
}

/// A template as the pod gets it: without its comment lines, which explain the code to its
/// readers here and would only take room in the bundle, an env value RunPod bounds. A line
/// whose first non-blank characters are `# ` (or a lone `#`) is a comment in bash and in Python
/// (no template holds such a line inside a string); the shebang and code are kept as written.
fn without_comment_lines(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let t = line.trim_start();
            !(t == "#" || t.starts_with("# "))
        })
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// Deterministic archive: fixed order, times and owners, so equal scripts give equal bundles.
fn tar_gz(files: &[(&str, u32, Vec<u8>)]) -> Result<Vec<u8>> {
    let io =
        |e: std::io::Error| Error::new(crate::ErrorKind::Internal, format!("bundle archive: {e}"));
    let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
    for (name, mode, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        archive
            .append_data(&mut header, name, data.as_slice())
            .map_err(io)?;
    }
    let mut gz = archive.into_inner().map_err(io)?;
    gz.flush().map_err(io)?;
    gz.finish().map_err(io)
}

/// The values bash needs, one `key=value` per line. Validation has ruled out newlines and
/// control characters in every one, and bash reads them as data, never as code.
fn values(s: &PodScript) -> String {
    let r = &s.runtime;
    let b = |v: bool| if v { "1" } else { "0" }.to_owned();
    let (metrics_url, metrics_token) = match &s.telemetry {
        Some(t) => (t.url.clone(), t.token.expose().to_owned()),
        None => (String::new(), String::new()),
    };
    let base: Vec<(&str, String)> = vec![
        ("job_id", s.job_id.clone()),
        ("attempt", s.attempt.to_string()),
        ("issued_at", s.issued_at.to_string()),
        ("deadline_unix", s.deadline_unix.to_string()),
        ("api_base", r.api_base.trim_end_matches('/').to_owned()),
        ("python", r.python.clone()),
        ("expect_gpu", b(r.expect_gpu)),
        ("needs_torch", b(matches!(s.training, Training::Sft { .. }))),
        ("min_free_disk_gb", r.min_free_disk_gb.to_string()),
        ("heartbeat_s", r.heartbeat_s.to_string()),
        ("upload_reserve_s", r.upload_reserve_s.to_string()),
        ("pip_timeout_s", r.pip_timeout_s.to_string()),
        ("final_budget_s", r.final_budget_s.to_string()),
        ("checkin_budget_s", r.checkin_budget_s.to_string()),
        ("nodes", r.nodes.to_string()),
        ("gpus_per_node", r.gpus_per_node.to_string()),
        ("metrics_url", metrics_url),
        ("metrics_token", metrics_token),
        (
            "mode",
            if matches!(s.training, Training::Sft { .. }) {
                "sft"
            } else {
                "command"
            }
            .into(),
        ),
        ("artifacts_kind", artifacts_kind(&s.artifacts).to_owned()),
        ("uv", r.uv.clone().unwrap_or_default()),
        ("uv_version", UV_VERSION.to_owned()),
        ("index_url", r.index_url.clone().unwrap_or_default()),
        ("find_links", r.find_links.clone().unwrap_or_default()),
        ("cache_dir", r.cache_dir.clone().unwrap_or_default()),
        ("hub_model", hub_model(&s.training).to_owned()),
        (
            "resume",
            match s.resume {
                Some(_) => "1",
                None => "0",
            }
            .into(),
        ),
    ];
    let mut v: Vec<(String, String)> = base
        .into_iter()
        .map(|(k, val)| (k.to_owned(), val))
        .collect();
    dataset_values(&mut v, "dataset", &s.dataset);
    if let Some(eval) = &s.eval_dataset {
        dataset_values(&mut v, "eval_dataset", eval);
    }
    v.iter().map(|(k, val)| format!("{k}={val}\n")).collect()
}

/// A dataset's values, each key prefixed with `prefix` (`dataset_url`, `eval_dataset_url`, ...).
fn dataset_values(v: &mut Vec<(String, String)>, prefix: &str, d: &DatasetSource) {
    let mut put = |key: &str, value: String| v.push((format!("{prefix}_{key}"), value));
    match d {
        DatasetSource::Url {
            url,
            token,
            bytes,
            sha256,
        } => {
            put("kind", "url".into());
            put("url", url.clone());
            put(
                "token",
                token
                    .as_ref()
                    .map(|t| t.expose().to_owned())
                    .unwrap_or_default(),
            );
            put("bytes", bytes.to_string());
            put("sha256", sha256.clone());
        }
        DatasetSource::Path {
            path,
            bytes,
            sha256,
        } => {
            put("kind", "path".into());
            put("path", path.clone());
            put("bytes", bytes.to_string());
            put("sha256", sha256.clone());
        }
    }
}

/// The model the model stage downloads: a Hub id; empty for a path in the pod or a command.
fn hub_model(t: &Training) -> &str {
    match t {
        Training::Sft { model, .. } if !model.starts_with('/') => model,
        _ => "",
    }
}

fn artifacts_kind(a: &Artifacts) -> &'static str {
    match a {
        Artifacts::None => "none",
        Artifacts::App { .. } => "app",
        Artifacts::Volume { .. } => "volume",
        Artifacts::Hub { .. } => "hub",
    }
}

fn requirements(s: &PodScript) -> String {
    let mut lines = s.runtime.requirements.clone();
    let qlora = matches!(
        s.training,
        Training::Sft {
            method: Method::Qlora,
            ..
        }
    );
    if qlora && !lines.is_empty() && !lines.iter().any(|l| l.starts_with("bitsandbytes==")) {
        lines.push(QLORA_EXTRA.to_owned());
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}
