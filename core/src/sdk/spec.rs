//! What a user asks for: one training job, before anything is checked or spent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::fields::{overlay, to_object, typed};
use crate::runpod::Cloud;
use crate::script::{Hyperparameters, Method};

/// Where the dataset comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetRef {
    /// A dataset served by the app: the file `<datasets dir>/<id>`, downloaded by the pod through
    /// a signed URL scoped to the job.
    #[cfg_attr(feature = "schema", schemars(title = "AppDataset"))]
    App {
        /// The dataset id.
        id: String,
    },
    /// An object in the builder's S3-compatible bucket (uploaded with
    /// `BucketStaging::upload_file`), fetched by the pod through a presigned GET issued at
    /// deploy for each attempt.
    #[cfg_attr(feature = "schema", schemars(title = "BucketDataset"))]
    Bucket {
        /// The object key.
        key: String,
        /// Size in bytes.
        bytes: u64,
        /// sha256, lowercase hex.
        sha256: String,
    },
    /// A file on the builder's RunPod network volume (uploaded with `VolumeStaging`), read by
    /// the pod from its mount; the pod runs in the volume's data center and leaves its
    /// artifacts on the volume when no app receives them.
    #[cfg_attr(feature = "schema", schemars(title = "VolumeDataset"))]
    Volume {
        /// The object key on the volume (its path under the mount).
        key: String,
        /// Size in bytes.
        bytes: u64,
        /// sha256, lowercase hex.
        sha256: String,
    },
    /// A public https URL, checked on the pod against the size and sha256 given here.
    #[cfg_attr(feature = "schema", schemars(title = "UrlDataset"))]
    Url {
        /// The URL.
        url: String,
        /// Size in bytes.
        bytes: u64,
        /// sha256, lowercase hex.
        sha256: String,
    },
}

/// One training job, as asked for. [`JobSpec::new`] fills the defaults; set the rest with
/// struct update syntax or the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(description = "One training job, complete (as a plan carries it).")
)]
pub struct JobSpec {
    /// The job id (`[A-Za-z0-9_-]`, at most 48 characters); generated when `None`. Deploying the
    /// same id twice never creates two pods.
    pub job_id: Option<String>,
    /// The user the job belongs to (tokens are scoped to it).
    pub user: String,
    /// The RunPod account the job runs on, whose key the builder's credentials resolver gives;
    /// `None`: the builder's own key.
    #[serde(default)]
    pub account: Option<String>,
    /// A Hugging Face model id (`org/name`) or an absolute path in the pod.
    pub model: String,
    /// Model size in billions of parameters; read from the model's name when `None`.
    pub params_b: Option<f64>,
    /// The dataset.
    pub dataset: DatasetRef,
    /// A second dataset to evaluate on, instead of holding out `hyperparameters.eval_fraction`
    /// of the first (evaluated every `eval_steps`, watched by `early_stopping_patience`). On a
    /// network volume only when `dataset` is on it too.
    #[serde(default)]
    pub eval_dataset: Option<DatasetRef>,
    /// LoRA (default), QLoRA or full.
    pub method: Method,
    /// Hyperparameters; the method's defaults when `None`.
    pub hyperparameters: Option<Hyperparameters>,
    /// GPU types to use, in order of preference; empty picks the cheapest that fits.
    pub gpus: Vec<String>,
    /// GPUs per pod (per node), at least: more than one trains one process per GPU under
    /// `accelerate`. `plan` raises it (up to 8) when a full fine-tune's share of the model needs
    /// more GPUs to fit, and says so; it never lowers it.
    pub gpu_count: u32,
    /// Pods (nodes) in the job: more than one creates a RunPod Instant Cluster of `nodes` pods of
    /// `gpu_count` GPUs each, trained as one job.
    #[serde(default = "one_node")]
    pub nodes: u32,
    /// Secure (default) or community cloud.
    pub cloud: Cloud,
    /// Data centers to allow, in order; empty lets RunPod choose.
    pub data_centers: Vec<String>,
    /// The most the job may cost, USD: it sets the pod's hard deadline at the chosen price.
    pub budget_usd: f64,
    /// A shorter deadline than the budget buys, in hours.
    pub max_hours: Option<f64>,
    /// The container image; trainpod's default PyTorch image when `None`.
    pub image: Option<String>,
    /// The caller vouches that `image` carries Python 3.11+ and torch 2.6+ (an image trainpod
    /// cannot tell from its name).
    pub image_vouched: bool,
}

/// The most nodes a job may span. RunPod allows clusters of up to 250 pods; trainpod keeps to
/// what one job's watchdogs, budget and bill are tested for.
pub const MAX_NODES: u32 = 16;

fn one_node() -> u32 {
    1
}

/// What a refusal of a spec's field is prefixed with.
const SPEC: &str = "job spec";

impl JobSpec {
    /// The fields [`JobSpec::from_fields`] requires; the others have defaults.
    pub const REQUIRED_FIELDS: [&'static str; 4] = ["user", "model", "dataset", "budget_usd"];

    /// A LoRA job of `user` training `model` on `dataset`, costing at most `budget_usd`.
    pub fn new(
        user: impl Into<String>,
        model: impl Into<String>,
        dataset: DatasetRef,
        budget_usd: f64,
    ) -> JobSpec {
        JobSpec {
            job_id: None,
            user: user.into(),
            account: None,
            model: model.into(),
            params_b: None,
            dataset,
            eval_dataset: None,
            method: Method::Lora,
            hyperparameters: None,
            gpus: Vec::new(),
            gpu_count: 1,
            nodes: 1,
            cloud: Cloud::Secure,
            data_centers: Vec::new(),
            budget_usd,
            max_hours: None,
            image: None,
            image_vouched: false,
        }
    }

    /// A spec from the fields a binding was given (snake_case names, as JSON values): `user`,
    /// `model`, `dataset` and `budget_usd` are required, the others keep [`JobSpec::new`]'s
    /// defaults, and given hyperparameters are laid over the method's. A refusal names the
    /// field (`hyperparameters.learning_rate: …`) and what it takes.
    pub fn from_fields(mut given: Map<String, Value>) -> Result<JobSpec> {
        for required in JobSpec::REQUIRED_FIELDS {
            if given.get(required).is_none_or(Value::is_null) {
                return Err(Error::invalid_input(format!(
                    "job spec: `{required}` is required"
                )));
            }
        }
        if let Some(hp) = given.remove("hyperparameters").filter(|v| !v.is_null()) {
            let method: Method = match given.get("method").filter(|m| !m.is_null()) {
                Some(m) => typed(SPEC, "method", m.clone())?,
                None => Method::Lora,
            };
            let defaults = Hyperparameters::for_method(method);
            let merged = overlay(SPEC, "hyperparameters", to_object(&defaults)?, hp)?;
            given.insert("hyperparameters".into(), Value::Object(merged));
        }
        let empty = JobSpec::new("", "", DatasetRef::App { id: String::new() }, 0.0);
        let merged = overlay(SPEC, "", to_object(&empty)?, Value::Object(given))?;
        typed(SPEC, "", Value::Object(merged))
    }

    /// The hyperparameters the job runs with.
    pub fn resolved_hyperparameters(&self) -> Hyperparameters {
        self.hyperparameters
            .clone()
            .unwrap_or_else(|| Hyperparameters::for_method(self.method))
    }

    /// Checks what needs no network: ids, names, numbers.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(id) = &self.job_id {
            check_job_id(id)?;
        }
        if self.user.is_empty() || self.user.len() > 128 {
            return Err(Error::invalid_input(
                "user must be 1 to 128 characters: the id of the user the job belongs to",
            ));
        }
        if self.model.trim().is_empty() {
            return Err(Error::invalid_input(
                "model is empty: give a Hugging Face model id (org/name) or an absolute path in the pod",
            ));
        }
        if !(self.budget_usd.is_finite() && self.budget_usd > 0.0) {
            return Err(Error::invalid_input(
                "budget_usd must be a positive number of US dollars: the most this job may cost",
            ));
        }
        if let Some(p) = self.params_b.filter(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(Error::invalid_input(format!(
                "params_b is {p}: give the model's size in billions of parameters (8 for an 8B model)"
            )));
        }
        if self.gpu_count == 0 || self.gpu_count > 8 {
            return Err(Error::invalid_input("gpu_count must be 1 to 8"));
        }
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(Error::invalid_input(format!(
                "nodes must be 1 (one pod) to {MAX_NODES} (an Instant Cluster of that many pods)"
            )));
        }
        self.check_evaluation()?;
        if let Some(h) = self.max_hours.filter(|h| !(h.is_finite() && *h > 0.0)) {
            return Err(Error::invalid_input(format!(
                "max_hours is {h}: give a positive number of hours, or leave it unset to let the budget decide"
            )));
        }
        Ok(())
    }
}

impl JobSpec {
    /// An evaluation dataset, or a held-out fraction, not both; on a volume only beside the
    /// training dataset; and early stopping only with one of them.
    fn check_evaluation(&self) -> Result<()> {
        let hp = self.resolved_hyperparameters();
        let Some(eval) = &self.eval_dataset else {
            return Ok(());
        };
        if hp.eval_fraction > 0.0 {
            return Err(Error::invalid_input(
                "eval_dataset and hyperparameters.eval_fraction are both set: evaluate on the \
                 second dataset or on a held-out share of the first, not both",
            ));
        }
        let on_volume = |d: &DatasetRef| matches!(d, DatasetRef::Volume { .. });
        if on_volume(eval) && !on_volume(&self.dataset) {
            return Err(Error::invalid_input(
                "eval_dataset is on the network volume but the dataset is not: the pod mounts the \
                 volume only for a volume dataset; stage both there, or serve the evaluation \
                 dataset from the app, the bucket or a URL",
            ));
        }
        Ok(())
    }
}

/// The longest job id: the pod name `trainpod-<id>.<attempt>` must stay short.
pub const MAX_JOB_ID_LEN: usize = 48;

/// A job id: 1 to 48 of `[A-Za-z0-9_-]` (the pod script takes 64; the SDK keeps room for the
/// attempt in the pod name).
pub fn check_job_id(id: &str) -> Result<()> {
    if crate::script::validate_job_id(id).is_ok() && id.len() <= MAX_JOB_ID_LEN {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "job id {} is invalid: use 1 to {MAX_JOB_ID_LEN} letters, digits, '-' or '_'",
            crate::error::quote(id)
        )))
    }
}

/// A fresh job id: `job-` and 16 random hex digits.
pub(crate) fn new_job_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            crate::ErrorKind::Internal,
            format!("the system's random source failed: {e}"),
        )
    })?;
    Ok(format!("job-{}", crate::hex::encode(&bytes)))
}

#[cfg(test)]
mod from_fields_tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: Value) -> Result<JobSpec> {
        let mut given = json!({
            "user": "u", "model": "Qwen/Qwen2.5-0.5B", "dataset": {"kind": "app", "id": "chat"},
            "budget_usd": 5.0,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            given[k] = v;
        }
        let Value::Object(given) = given else {
            unreachable!()
        };
        JobSpec::from_fields(given)
    }

    fn refused(extra: Value) -> String {
        spec(extra).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn given_fields_lay_over_the_defaults_and_the_methods_hyperparameters() {
        let s = spec(json!({"method": "qlora", "hyperparameters": {"max_steps": 7}}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.hyperparameters.as_ref().map(|h| h.max_steps), Some(7));
        let qlora = Hyperparameters::for_method(Method::Qlora);
        assert_eq!(
            s.hyperparameters.map(|h| h.learning_rate),
            Some(qlora.learning_rate)
        );
        assert_eq!(s.gpu_count, 1);
    }

    #[test]
    fn every_refusal_names_its_field() {
        for (extra, field) in [
            (
                json!({"hyperparameters": {"learning_rate": "NaN"}}),
                "`hyperparameters.learning_rate`",
            ),
            (
                json!({"hyperparameters": {"learning_rate": "1e-4"}}),
                "`hyperparameters.learning_rate`",
            ),
            (
                json!({"hyperparameters": {"max_steps": -1}}),
                "`hyperparameters.max_steps`",
            ),
            (
                json!({"hyperparameters": {"learnin_rate": 1}}),
                "`hyperparameters.learnin_rate`",
            ),
            (json!({"budget_usd": "five"}), "`budget_usd`"),
            (json!({"gpus": "NVIDIA A40"}), "`gpus`"),
            (json!({"method": "lora2"}), "`method`"),
            (json!({"colour": 1}), "`colour`"),
            (json!({"dataset": {"kind": "app"}}), "`dataset"),
        ] {
            let err = refused(extra.clone());
            assert!(err.contains(field), "{extra}: {err}");
            assert!(!err.contains("line 1 column"), "{err}");
        }
        assert!(refused(json!({"user": null})).contains("`user` is required"));
    }
}
