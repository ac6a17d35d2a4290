//! Checks every value before it goes into a bundle, so that the pod gets only well-formed data
//! and a bad field costs no pod. Each error names the field and what to do.

use url::Url;

use super::config::{
    Artifacts, DatasetSource, Endpoint, Hyperparameters, LoraTargetModules, Method, PodRuntime,
    PodScript, Resume, Secret, Training,
};
use crate::error::{Error, Result};

const MAX_ARGV: usize = 256;
/// The bounds of `JobSpec::gpu_count` (a RunPod pod has at most 8 GPUs) and `JobSpec::nodes`
/// (the sdk's `MAX_NODES`, which a test below keeps equal; the sdk is Unix only).
const MAX_GPUS_PER_NODE: u32 = 8;
const MAX_NODES: u32 = 16;
const MAX_ARGV_BYTES: usize = 16 * 1024;

fn bad(field: &str, what: &str) -> Error {
    Error::invalid_input(format!("pod script: `{field}` {what}"))
}

/// Checks a whole pod script.
pub fn validate(s: &PodScript) -> Result<()> {
    job_id(&s.job_id)?;
    if s.attempt == 0 {
        return Err(bad("attempt", "must be 1 or more"));
    }
    // The pod stops training this long before the deadline, to upload and report.
    let reserve = u64::from(s.runtime.upload_reserve_s) + u64::from(s.runtime.final_budget_s) + 5;
    if s.deadline_unix <= s.issued_at.saturating_add(reserve) {
        return Err(bad(
            "deadline_unix",
            &format!(
                "leaves no time to train: it must be more than {reserve} s after issued_at (upload reserve + final budget + 5 s); raise the budget or lower upload_reserve_s"
            ),
        ));
    }
    if let Some(t) = &s.telemetry {
        endpoint("telemetry", t)?;
    }
    dataset(&s.dataset)?;
    training(&s.training, s.runtime.expect_gpu, s.eval_dataset.is_some())?;
    if let Some(eval) = &s.eval_dataset {
        dataset(eval)?;
    }
    artifacts(&s.artifacts)?;
    resume(s)?;
    runtime(s)
}

/// Job ids travel into JSON, file names and pod names: `[A-Za-z0-9_-]{1,64}`.
pub fn job_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "job_id",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'",
        ))
    }
}

fn http_url(field: &str, text: &str) -> Result<()> {
    if text.len() > 2048 {
        return Err(bad(field, "must be at most 2048 bytes"));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(field, "must not contain spaces or control characters"));
    }
    let url = Url::parse(text).map_err(|e| bad(field, &format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(field, "must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            field,
            "must not carry credentials; the pod sends a bearer token",
        ));
    }
    Ok(())
}

fn secret(field: &str, s: &Secret) -> Result<()> {
    let t = s.expose();
    if t.is_empty() || t.len() > 4096 || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            field,
            "must be 1 to 4096 printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

fn endpoint(field: &str, e: &Endpoint) -> Result<()> {
    http_url(&format!("{field}.url"), &e.url)?;
    secret(&format!("{field}.token"), &e.token)
}

fn sha256(field: &str, hex: &str) -> Result<()> {
    if crate::hex::is_sha256(hex) {
        Ok(())
    } else {
        Err(bad(
            field,
            "must be 64 lowercase hex digits (inspect the dataset to get it)",
        ))
    }
}

fn abs_path(field: &str, p: &str) -> Result<()> {
    let ok = p.starts_with('/')
        && p.len() <= 1024
        && !p.chars().any(char::is_control)
        && !p.split('/').any(|c| c == "..");
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            "must be an absolute path without '..' or control characters",
        ))
    }
}

fn dataset(d: &DatasetSource) -> Result<()> {
    match d {
        DatasetSource::Url {
            url,
            token,
            sha256: sum,
            ..
        } => {
            http_url("dataset.url", url)?;
            if let Some(t) = token {
                secret("dataset.token", t)?;
            }
            sha256("dataset.sha256", sum)
        }
        DatasetSource::Path {
            path, sha256: sum, ..
        } => {
            abs_path("dataset.path", path)?;
            sha256("dataset.sha256", sum)
        }
    }
}

/// Whether `id` is `org/name` (or `name`) as the Hugging Face Hub spells repository ids.
pub(crate) fn is_hub_id(id: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !p.starts_with(['.', '-'])
            && !p.contains("..")
    };
    let mut parts = id.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => part(a),
        (Some(a), Some(b), None) => part(a) && part(b),
        _ => false,
    }
}

/// `field` must be a Hub repository id.
fn hub_id(field: &str, id: &str) -> Result<()> {
    if is_hub_id(id) {
        Ok(())
    } else {
        Err(bad(
            field,
            "must be a Hugging Face id like `org/name` or an absolute path",
        ))
    }
}

fn training(t: &Training, expect_gpu: bool, eval_dataset: bool) -> Result<()> {
    match t {
        Training::Sft {
            model,
            method,
            hyperparameters,
            dataset_format: _,
            eval_dataset_format: _,
        } => {
            if model.starts_with('/') {
                abs_path("training.model", model)?;
            } else {
                hub_id("training.model", model)?;
            }
            if *method == Method::Qlora && !expect_gpu {
                return Err(bad(
                    "training.method",
                    "qlora needs a CUDA GPU (expect_gpu)",
                ));
            }
            hyper(hyperparameters, eval_dataset)
        }
        Training::Command { argv } => {
            if argv.is_empty() || argv.len() > MAX_ARGV {
                return Err(bad("training.argv", "must hold 1 to 256 arguments"));
            }
            if argv.iter().map(String::len).sum::<usize>() > MAX_ARGV_BYTES {
                return Err(bad("training.argv", "must be at most 16 KiB in all"));
            }
            if argv.iter().any(|a| a.contains('\0')) || argv[0].is_empty() {
                return Err(bad(
                    "training.argv",
                    "must not contain NUL or an empty program",
                ));
            }
            Ok(())
        }
    }
}

fn range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v.is_finite() && v > lo && v <= hi {
        Ok(())
    } else {
        Err(bad(
            field,
            &format!("must be a number above {lo} and at most {hi}"),
        ))
    }
}

fn count(field: &str, v: u32, lo: u32, hi: u32) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(bad(field, &format!("must be from {lo} to {hi}")))
    }
}

fn hyper(h: &Hyperparameters, eval_dataset: bool) -> Result<()> {
    range("hyperparameters.epochs", h.epochs, 0.0, 1000.0)?;
    range("hyperparameters.learning_rate", h.learning_rate, 0.0, 1.0)?;
    if !(0.0..1.0).contains(&h.lora_dropout) {
        return Err(bad(
            "hyperparameters.lora_dropout",
            "must be from 0 up to (not including) 1",
        ));
    }
    count("hyperparameters.batch_size", h.batch_size, 1, 1024)?;
    count(
        "hyperparameters.gradient_accumulation_steps",
        h.gradient_accumulation_steps,
        1,
        1024,
    )?;
    count("hyperparameters.max_length", h.max_length, 16, 1 << 20)?;
    count("hyperparameters.logging_steps", h.logging_steps, 1, 1 << 20)?;
    evaluation(h, eval_dataset)?;
    count("hyperparameters.lora_r", h.lora_r, 1, 1024)?;
    count("hyperparameters.lora_alpha", h.lora_alpha, 1, 1 << 16)?;
    target_modules(&h.lora_target_modules)
}

fn evaluation(h: &Hyperparameters, eval_dataset: bool) -> Result<()> {
    count(
        "hyperparameters.save_minutes",
        h.save_minutes,
        0,
        7 * 24 * 60,
    )?;
    if !(h.eval_fraction.is_finite() && (0.0..=0.5).contains(&h.eval_fraction)) {
        return Err(bad(
            "hyperparameters.eval_fraction",
            "must be from 0 (no evaluation) to 0.5: the share of the dataset held out",
        ));
    }
    count(
        "hyperparameters.early_stopping_patience",
        h.early_stopping_patience,
        0,
        1000,
    )?;
    if h.early_stopping_patience > 0 && h.eval_fraction == 0.0 && !eval_dataset {
        return Err(bad(
            "hyperparameters.early_stopping_patience",
            "needs a held-out split to watch: set eval_fraction (such as 0.05) or an eval_dataset",
        ));
    }
    Ok(())
}

const MAX_TARGET_MODULES: usize = 32;
const MAX_MODULE_NAME: usize = 64;

/// Module names as models spell them (`q_proj`, `mlp.down_proj`): PEFT matches each against
/// the end of a module's dotted path, so nothing else can name a module.
fn target_modules(t: &LoraTargetModules) -> Result<()> {
    const FIELD: &str = "hyperparameters.lora_target_modules";
    let LoraTargetModules::Names(names) = t else {
        return Ok(());
    };
    if names.is_empty() {
        return Err(bad(
            FIELD,
            "is an empty list: name the modules to adapt (such as [\"q_proj\", \"v_proj\"]) or use \"all-linear\"",
        ));
    }
    if names.len() > MAX_TARGET_MODULES {
        return Err(bad(
            FIELD,
            &format!(
                "lists {} modules, over {MAX_TARGET_MODULES}: name fewer, or use \"all-linear\" for every linear layer",
                names.len()
            ),
        ));
    }
    for name in names {
        let ok = (1..=MAX_MODULE_NAME).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !ok {
            let shown = crate::error::quote(name);
            return Err(bad(
                FIELD,
                &format!(
                    "has {shown}: each module name must be 1 to {MAX_MODULE_NAME} characters of A-Z, a-z, 0-9, '_' and '.', as the model names its layers (such as \"q_proj\")"
                ),
            ));
        }
    }
    Ok(())
}

fn artifacts(a: &Artifacts) -> Result<()> {
    match a {
        Artifacts::None => Ok(()),
        Artifacts::App { url, token } => {
            http_url("artifacts.url", url)?;
            secret("artifacts.token", token)
        }
        Artifacts::Volume { path } => abs_path("artifacts.path", path),
        Artifacts::Hub { repo, token } => {
            if !repo.contains('/') {
                return Err(bad("artifacts.repo", "must be `org/name`"));
            }
            hub_id("artifacts.repo", repo)?;
            secret("artifacts.token", token)
        }
    }
}

/// The most files a checkpoint to resume from may list.
const MAX_CHECKPOINT_FILES: usize = 1000;

fn resume(s: &PodScript) -> Result<()> {
    let Some(Resume::App { url, files, .. }) = &s.resume else {
        return Ok(());
    };
    if !matches!(s.artifacts, Artifacts::App { .. }) {
        return Err(bad(
            "resume",
            "fetches from the app with the artifacts token: the job's artifacts must go to the app",
        ));
    }
    http_url("resume.url", url)?;
    if files.is_empty() || files.len() > MAX_CHECKPOINT_FILES {
        return Err(bad("resume.files", "must list 1 to 1000 files"));
    }
    for f in files {
        let safe = f.path.len() <= 512
            && f.path.split('/').all(|part| {
                !part.is_empty()
                    && !part.starts_with('.')
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            });
        let digest = f.sha256.len() == 64 && f.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !safe || !digest {
            return Err(bad(
                "resume.files",
                "must hold relative paths of letters, digits, '.', '_' and '-' with a 64-digit sha256",
            ));
        }
    }
    Ok(())
}

fn runtime(s: &PodScript) -> Result<()> {
    let r = &s.runtime;
    http_url("runtime.api_base", &r.api_base)?;
    let python_ok = !r.python.is_empty()
        && r.python.len() <= 256
        && r.python
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b));
    if !python_ok {
        return Err(bad(
            "runtime.python",
            "must be a program name or path like `python3`",
        ));
    }
    count("runtime.heartbeat_s", r.heartbeat_s, 1, 600)?;
    count("runtime.flush_s", r.flush_s, 1, 60)?;
    count("runtime.progress_s", r.progress_s, 1, 3600)?;
    count("runtime.final_budget_s", r.final_budget_s, 1, 60)?;
    count("runtime.checkin_budget_s", r.checkin_budget_s, 0, 600)?;
    count("runtime.pip_timeout_s", r.pip_timeout_s, 1, 24 * 3600)?;
    count("runtime.upload_reserve_s", r.upload_reserve_s, 0, 24 * 3600)?;
    count(
        "runtime.gpus_per_node",
        r.gpus_per_node,
        1,
        MAX_GPUS_PER_NODE,
    )?;
    count("runtime.nodes", r.nodes, 1, MAX_NODES)?;
    installer(r)?;
    for req in &r.requirements {
        requirement(req)?;
    }
    Ok(())
}

/// Where the installers and the caches are: paths are absolute, URLs carry no credentials.
fn installer(r: &PodRuntime) -> Result<()> {
    if let Some(uv) = &r.uv {
        abs_path("runtime.uv", uv)?;
    }
    if let Some(dir) = &r.cache_dir {
        abs_path("runtime.cache_dir", dir)?;
    }
    if let Some(url) = &r.index_url {
        http_url("runtime.index_url", url)?;
    }
    match &r.find_links {
        Some(p) if p.starts_with('/') => abs_path("runtime.find_links", p),
        Some(url) => http_url("runtime.find_links", url),
        None => Ok(()),
    }
}

/// Requirements are pinned `name==version` lines, nothing pip could read as an option or URL.
fn requirement(line: &str) -> Result<()> {
    let (name, version) = line.split_once("==").unwrap_or(("", ""));
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('-');
    let version_ok = !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+!".contains(&b));
    if name_ok && version_ok {
        Ok(())
    } else {
        Err(bad(
            "runtime.requirements",
            &format!("has `{line}`; each must be `name==version`"),
        ))
    }
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_node_bound_is_the_job_specs() {
        assert_eq!(super::MAX_NODES, crate::sdk::MAX_NODES);
    }
}
