//! The job spec of `plan` and `deploy`: the `--spec` file's fields with the flags laid over
//! them, read by core's `JobSpec::from_fields` (so a refusal names the field).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
use trainpod::Result;
use trainpod::dataset::{InspectOptions, inspect};
use trainpod::sdk::JobSpec;

use crate::settings::invalid;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    Lora,
    Qlora,
    Full,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CloudArg {
    Secure,
    Community,
}

/// What a job is. Flags override the `--spec` file's fields.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Job spec")]
pub struct SpecArgs {
    /// A job spec as JSON (the fields of the bindings' JobSpec, snake_case)
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The job id [default: generated]
    #[arg(long)]
    pub job_id: Option<String>,
    /// Who the job belongs to [default: $USER]
    #[arg(long)]
    pub user: Option<String>,
    /// A Hugging Face model id (org/name), or an absolute path in the pod
    #[arg(long)]
    pub model: Option<String>,
    /// Model size in billions of parameters [default: read from the model's name]
    #[arg(long, value_name = "B")]
    pub params_b: Option<f64>,
    /// Where the pod downloads the dataset (https; http on loopback with the local provider)
    #[arg(long, value_name = "URL")]
    pub dataset_url: Option<String>,
    /// A local copy of the dataset: checked, and its size and sha256 given to the pod
    #[arg(long, value_name = "FILE")]
    pub dataset_file: Option<PathBuf>,
    /// The dataset's sha256 (without --dataset-file)
    #[arg(long, value_name = "HEX")]
    pub dataset_sha256: Option<String>,
    /// The dataset's size in bytes (without --dataset-file)
    #[arg(long, value_name = "N")]
    pub dataset_bytes: Option<u64>,
    /// The most the job may cost, USD
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// The training method [default: lora]
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// A GPU type to use, in order of preference (repeat) [default: the cheapest that fits]
    #[arg(long = "gpu", value_name = "GPU_TYPE")]
    pub gpus: Vec<String>,
    /// GPUs per pod
    #[arg(long, value_name = "N")]
    pub gpu_count: Option<u32>,
    /// Pods in the job (more than one: an Instant Cluster)
    #[arg(long, value_name = "N")]
    pub nodes: Option<u32>,
    /// RunPod's secure or community cloud [default: secure]
    #[arg(long, value_enum)]
    pub cloud: Option<CloudArg>,
    /// A data center to allow (repeat) [default: any]
    #[arg(long = "data-center", value_name = "ID")]
    pub data_centers: Vec<String>,
    /// A shorter deadline than the budget buys, hours
    #[arg(long, value_name = "H")]
    pub max_hours: Option<f64>,
    /// The container image [default: trainpod's PyTorch image]
    #[arg(long)]
    pub image: Option<String>,
    /// A hyperparameter, NAME=VALUE (repeat; VALUE as JSON, else as text): max_steps=30
    #[arg(long = "hp", value_name = "NAME=VALUE")]
    pub hyperparameters: Vec<String>,
}

impl SpecArgs {
    /// Whether any field of a job was given (else `deploy` needs a job id).
    pub fn any(&self) -> bool {
        self.spec.is_some()
            || self.model.is_some()
            || self.dataset_url.is_some()
            || self.dataset_file.is_some()
            || self.budget.is_some()
            || self.job_id.is_some()
    }

    /// The spec: the file's fields, the flags over them, checked by core.
    pub fn job_spec(&self) -> Result<JobSpec> {
        let mut fields = self.file_fields()?;
        let mut set = |name: &str, value: Option<Value>| {
            if let Some(v) = value {
                fields.insert(name.to_owned(), v);
            }
        };
        set("job_id", self.job_id.clone().map(Value::from));
        set("user", self.user.clone().map(Value::from));
        set("model", self.model.clone().map(Value::from));
        set("params_b", self.params_b.map(Value::from));
        set("budget_usd", self.budget.map(Value::from));
        set("method", self.method.map(|m| json!(method_name(m))));
        set("gpu_count", self.gpu_count.map(Value::from));
        set("nodes", self.nodes.map(Value::from));
        set("cloud", self.cloud.map(|c| json!(cloud_name(c))));
        set("max_hours", self.max_hours.map(Value::from));
        set("image", self.image.clone().map(Value::from));
        set("dataset", self.dataset()?);
        if !self.gpus.is_empty() {
            set("gpus", Some(json!(self.gpus)));
        }
        if !self.data_centers.is_empty() {
            set("data_centers", Some(json!(self.data_centers)));
        }
        if !fields.contains_key("user") {
            let user = std::env::var("USER").unwrap_or_default();
            fields.insert(
                "user".into(),
                json!(if user.is_empty() { "local" } else { &user }),
            );
        }
        self.lay_hyperparameters(&mut fields)?;
        JobSpec::from_fields(fields)
    }

    fn file_fields(&self) -> Result<Map<String, Value>> {
        let Some(path) = &self.spec else {
            return Ok(Map::new());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read --spec {}: {e}", path.display())))?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(invalid(format!(
                "--spec {}: a job spec is a JSON object of the JobSpec fields",
                path.display()
            ))),
            Err(e) => Err(invalid(format!(
                "--spec {} is not JSON: {e}",
                path.display()
            ))),
        }
    }

    /// `DatasetRef::Url` from the flags: a pod downloads the file itself and checks its size
    /// and sha256, which the local copy gives (and inspection checks its rows first).
    fn dataset(&self) -> Result<Option<Value>> {
        let Some(url) = &self.dataset_url else {
            if self.dataset_file.is_some() || self.dataset_sha256.is_some() {
                return Err(invalid(
                    "--dataset-file and --dataset-sha256 need --dataset-url: where the pod \
                     downloads the dataset (a pod cannot read this machine's files)"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let (bytes, sha256) = match (&self.dataset_file, self.dataset_bytes, &self.dataset_sha256) {
            (Some(file), None, None) => {
                let report = inspect(file, &InspectOptions::default())?;
                if !report.is_valid() {
                    return Err(invalid(format!(
                        "--dataset-file {}: {} of its rows are refused; run `trainpod inspect {}` \
                         to see which",
                        file.display(),
                        report.error_count,
                        file.display()
                    )));
                }
                (report.bytes, report.sha256)
            }
            (None, Some(bytes), Some(sha)) => (bytes, sha.clone()),
            _ => {
                return Err(invalid(
                    "--dataset-url needs either --dataset-file (a local copy) or both \
                     --dataset-bytes and --dataset-sha256"
                        .into(),
                ));
            }
        };
        Ok(Some(
            json!({"kind": "url", "url": url, "bytes": bytes, "sha256": sha256}),
        ))
    }

    fn lay_hyperparameters(&self, fields: &mut Map<String, Value>) -> Result<()> {
        if self.hyperparameters.is_empty() {
            return Ok(());
        }
        let hp = fields
            .entry("hyperparameters")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(hp) = hp else {
            return Err(invalid(
                "--spec: `hyperparameters` must be an object to add --hp to".into(),
            ));
        };
        for given in &self.hyperparameters {
            let Some((name, value)) = given.split_once('=').filter(|(n, _)| !n.is_empty()) else {
                return Err(invalid(format!("--hp {given:?} is not NAME=VALUE")));
            };
            let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
            hp.insert(name.to_owned(), value);
        }
        Ok(())
    }
}

fn method_name(m: MethodArg) -> &'static str {
    match m {
        MethodArg::Lora => "lora",
        MethodArg::Qlora => "qlora",
        MethodArg::Full => "full",
    }
}

fn cloud_name(c: CloudArg) -> &'static str {
    match c {
        CloudArg::Secure => "SECURE",
        CloudArg::Community => "COMMUNITY",
    }
}
