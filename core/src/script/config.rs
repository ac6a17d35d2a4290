//! What a pod needs to run one job: every user value, in one JSON config inside the bundle.

use std::fmt;

use serde::Serialize;

use crate::dataset::DatasetFormat;
use crate::staging::redact_url;
use crate::token::Token;

/// A credential bound for the pod. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&Token> for Secret {
    fn from(token: &Token) -> Self {
        Secret(token.expose().to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A URL the pod calls with a bearer token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Where to send.
    pub url: String,
    /// The token, sent as `Authorization: Bearer`.
    pub token: Secret,
}

/// Where the pod finds its dataset.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetSource {
    /// Downloaded over HTTPS (an app-served signed URL, a presigned GET or a public URL).
    Url {
        /// Download URL.
        url: String,
        /// Bearer token for the download, when the URL is not itself signed.
        token: Option<Secret>,
        /// Expected size in bytes.
        bytes: u64,
        /// Expected sha256, lowercase hex.
        sha256: String,
    },
    /// Already on a mounted network volume.
    Path {
        /// Absolute path in the pod.
        path: String,
        /// Expected size in bytes.
        bytes: u64,
        /// Expected sha256, lowercase hex.
        sha256: String,
    },
}

// Not derived: a presigned URL carries its signature in the query, a credential until it
// expires, so `Debug` shows the URL without it.
impl fmt::Debug for DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetSource::Url {
                url,
                token,
                bytes,
                sha256,
            } => f
                .debug_struct("Url")
                .field("url", &redact_url(url))
                .field("token", token)
                .field("bytes", bytes)
                .field("sha256", sha256)
                .finish(),
            DatasetSource::Path {
                path,
                bytes,
                sha256,
            } => f
                .debug_struct("Path")
                .field("path", path)
                .field("bytes", bytes)
                .field("sha256", sha256)
                .finish(),
        }
    }
}

/// How the model is adapted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// LoRA adapters on a bf16 (or fp16) base.
    Lora,
    /// LoRA adapters on a 4-bit NF4 base (needs a CUDA GPU and bitsandbytes).
    Qlora,
    /// Every weight.
    Full,
}

/// Numeric precision on the GPU; CPU always trains in full precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bf16 where the GPU supports it, else fp16.
    Auto,
    /// bf16 (falls back to fp16 on GPUs older than Ampere).
    Bf16,
    /// fp16.
    Fp16,
}

/// Training hyperparameters, with the defaults the training notes recommend. Each one's
/// meaning, default and allowed range are in `docs/hyperparameters.md`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Hyperparameters {
    /// Passes over the dataset (ignored when `max_steps` is set).
    pub epochs: f64,
    /// Stop after this many optimizer steps; 0 means epochs decide.
    pub max_steps: u64,
    /// Examples per device per step.
    pub batch_size: u32,
    /// Batches accumulated per optimizer step.
    pub gradient_accumulation_steps: u32,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Tokens per example; longer examples are truncated (TRL's 1024 default truncates silently).
    pub max_length: u32,
    /// Log every this many steps.
    pub logging_steps: u32,
    /// Save a checkpoint every this many steps; 0 leaves it to `save_minutes`. Each checkpoint
    /// is copied whole to where the job keeps its artifacts, and a retry resumes from the newest.
    pub save_steps: u32,
    /// Save a checkpoint every this many minutes of training as well; 0 never by the clock.
    /// Absent in older specs: 30.
    #[serde(default = "default_save_minutes")]
    pub save_minutes: u32,
    /// The share of the dataset held out to evaluate on (0 up to 0.5); 0 evaluates nothing.
    #[serde(default)]
    pub eval_fraction: f64,
    /// Evaluate every this many steps; 0 evaluates about ten times in the run.
    #[serde(default)]
    pub eval_steps: u32,
    /// Stop when the held-out loss has not improved for this many evaluations in a row, and
    /// keep the best checkpoint as the model; 0 never stops early. Needs `eval_fraction`.
    #[serde(default)]
    pub early_stopping_patience: u32,
    /// Train on padding-free batches (each batch's sequences concatenated, kept apart by their
    /// position ids) where the model's architecture and attention support it, padded batches
    /// otherwise. Absent in older specs: true.
    #[serde(default = "yes")]
    pub padding_free: bool,
    /// LoRA rank.
    pub lora_r: u32,
    /// LoRA alpha.
    pub lora_alpha: u32,
    /// LoRA dropout.
    pub lora_dropout: f64,
    /// The modules LoRA adapts: `"all-linear"` (every linear layer but the output head) or a
    /// list of module names such as `["q_proj", "v_proj"]`. Absent in older specs: every linear
    /// layer, as before the field existed.
    #[serde(default)]
    pub lora_target_modules: LoraTargetModules,
    /// Trade compute for memory on the GPU.
    pub gradient_checkpointing: bool,
    /// Precision on the GPU.
    pub precision: Precision,
    /// Random seed.
    pub seed: u64,
}

impl Hyperparameters {
    /// Defaults for a method: LoRA and QLoRA learn at 2e-4 (about 10x TRL's 2e-5 default).
    pub fn for_method(method: Method) -> Self {
        Hyperparameters {
            epochs: 1.0,
            max_steps: 0,
            batch_size: 4,
            gradient_accumulation_steps: 4,
            learning_rate: if method == Method::Full { 2e-5 } else { 2e-4 },
            max_length: 2048,
            logging_steps: 10,
            save_steps: 0,
            save_minutes: default_save_minutes(),
            eval_fraction: 0.0,
            eval_steps: 0,
            early_stopping_patience: 0,
            padding_free: true,
            lora_r: 16,
            lora_alpha: 32,
            lora_dropout: 0.05,
            lora_target_modules: LoraTargetModules::AllLinear,
            gradient_checkpointing: true,
            precision: Precision::Auto,
            seed: 42,
        }
    }
}

/// A checkpoint every half hour: a failure then costs at most that much training again.
fn default_save_minutes() -> u32 {
    30
}

fn yes() -> bool {
    true
}

/// Which modules LoRA (and QLoRA) adapts. In JSON: the string `"all-linear"` or a list of names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LoraTargetModules {
    /// Every linear layer but the output head (PEFT's `"all-linear"`).
    #[default]
    AllLinear,
    /// The modules whose names end with one of these (PEFT's matching), e.g. `q_proj`.
    Names(Vec<String>),
}

/// The JSON spelling of [`LoraTargetModules::AllLinear`].
const ALL_LINEAR: &str = "all-linear";

#[cfg(feature = "schema")]
impl schemars::JsonSchema for LoraTargetModules {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LoraTargetModules".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`\"all-linear\"` (every linear layer but the output head) or module names.",
            "anyOf": [
                {"type": "string", "const": ALL_LINEAR},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

/// What a bad value is told, wherever it was given (a spec from Python, Node or JSON).
const TARGET_MODULES_EXPECTED: &str = "`hyperparameters.lora_target_modules` to be \"all-linear\" \
     or a list of module names such as [\"q_proj\", \"v_proj\"]";

impl Serialize for LoraTargetModules {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LoraTargetModules::AllLinear => s.serialize_str(ALL_LINEAR),
            LoraTargetModules::Names(names) => names.serialize(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for LoraTargetModules {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = LoraTargetModules;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(TARGET_MODULES_EXPECTED)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == ALL_LINEAR {
                    Ok(LoraTargetModules::AllLinear)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                // An element of another type gets this message rather than serde's bare
                // "expected a string", which would not say which field.
                while let Some(name) = seq.next_element::<String>().map_err(|_| {
                    <A::Error as serde::de::Error>::custom(format!(
                        "expected {TARGET_MODULES_EXPECTED}, each name a string"
                    ))
                })? {
                    names.push(name);
                }
                Ok(LoraTargetModules::Names(names))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// What runs in the training stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Training {
    /// TRL `SFTTrainer`.
    Sft {
        /// A Hugging Face model id (`org/name`) or an absolute path in the pod.
        model: String,
        /// LoRA, QLoRA or full.
        method: Method,
        /// Hyperparameters.
        hyperparameters: Hyperparameters,
        /// The rows' format, when the dataset was read before deploying (`None` for a bucket,
        /// volume or URL dataset nobody read): the trainer turns Alpaca rows into
        /// prompt/completion as [`crate::dataset::convert_alpaca`] does.
        dataset_format: Option<DatasetFormat>,
        /// The evaluation dataset's format, in the same way.
        #[serde(skip_serializing_if = "Option::is_none")]
        eval_dataset_format: Option<DatasetFormat>,
    },
    /// The user's own command, run without a shell; it may call `$TRAINPOD_PYTHON
    /// $TRAINPOD_REPORT TYPE '{json}'` to report and must write its artifacts under
    /// `$TRAINPOD_OUTPUT_DIR`.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
    },
}

/// Where the artifacts go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifacts {
    /// Keep nothing (a dry run; the pod's disk goes with the pod).
    None,
    /// To the app: a manifest POST answered with one presigned PUT per file.
    App {
        /// The artifacts route.
        url: String,
        /// The job's `artifacts.write` token.
        token: Secret,
    },
    /// Copied to a mounted network volume under `<path>/<job id>/<attempt>/`.
    Volume {
        /// Absolute mount path in the pod.
        path: String,
    },
    /// Pushed to a private Hugging Face Hub repository.
    Hub {
        /// `org/name`.
        repo: String,
        /// A fine-grained write token for that repository.
        token: Secret,
    },
}

/// One file of a checkpoint, as its manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointFile {
    /// Path relative to the checkpoint's folder.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// Where an attempt resumes training from: the newest checkpoint an earlier attempt of the job
/// kept whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resume {
    /// A checkpoint the app received: each file is fetched from `<url>/<path>` with the
    /// attempt's artifacts token, and checked against its sha256.
    App {
        /// The optimizer step it was saved at.
        step: u64,
        /// Where its files are, under the artifacts route.
        url: String,
        /// Its manifest.
        files: Vec<CheckpointFile>,
    },
    /// The newest complete checkpoint under the job's folder on the network volume, found by
    /// the pod (none there: training starts afresh).
    Volume,
}

/// How the pod itself behaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PodRuntime {
    /// RunPod REST v2 base URL, for self-termination.
    pub api_base: String,
    /// Python interpreter in the image.
    pub python: String,
    /// Whether a CUDA GPU must be visible (checked in preflight).
    pub expect_gpu: bool,
    /// Free disk needed under the workspace, in GB.
    pub min_free_disk_gb: u32,
    /// Heartbeat interval in seconds.
    pub heartbeat_s: u32,
    /// Batching interval of the reporter in seconds.
    pub flush_s: u32,
    /// Minimum seconds between progress events.
    pub progress_s: u32,
    /// Seconds kept for the upload between the end of training and the deadline.
    pub upload_reserve_s: u32,
    /// Time allowed to pip.
    pub pip_timeout_s: u32,
    /// Time allowed to deliver the final status before terminating anyway (at least; once
    /// training has ended, what the upload left of its reserve is spent holding it too).
    pub final_budget_s: u32,
    /// How long the pod waits for the app to answer its check-in before it runs anyway.
    #[serde(default = "default_checkin_budget_s")]
    pub checkin_budget_s: u32,
    /// `name==version` lines installed against the image's torch; empty installs nothing.
    pub requirements: Vec<String>,
    /// Pods (nodes) training this job together: more than one is an Instant Cluster, each
    /// node reading its rank and the primary's address from RunPod's cluster env. Deploy sets
    /// it from the plan (`JobSpec::nodes`).
    #[serde(default = "one")]
    pub nodes: u32,
    /// Training processes on each node, one per GPU. With `nodes * gpus_per_node > 1` the
    /// trainer runs under `accelerate launch`. Deploy sets it from the plan
    /// (`JobSpec::gpu_count`).
    #[serde(default = "one")]
    pub gpus_per_node: u32,
    /// The `uv` binary that installs the requirements (an absolute path in the image or on a
    /// volume). `None`: `uv` on `PATH`, then `python -m uv`, then uv [`UV_VERSION`] fetched once
    /// with pip into the cache; pip installs them when no uv can be had.
    #[serde(default)]
    pub uv: Option<String>,
    /// The package index the requirements (and uv) come from instead of PyPI (`--index-url`),
    /// such as a private mirror. No credentials in it: give those to the pod as
    /// `UV_INDEX_URL` / `PIP_INDEX_URL` in its env instead.
    #[serde(default)]
    pub index_url: Option<String>,
    /// A directory in the pod (an absolute path) or an http(s) URL of wheels searched beside
    /// the index (`--find-links`).
    #[serde(default)]
    pub find_links: Option<String>,
    /// Where the pod keeps what outlives a job (uv, the installers' caches, the Hub cache the
    /// model downloads into), as an absolute path. `None`: `cache` under the pod's home, on the
    /// pod's own volume. Deploy puts it on the job's network volume when the job mounts one, so
    /// that the next job there finds the model already downloaded.
    #[serde(default)]
    pub cache_dir: Option<String>,
}

/// The training stack pinned for `runpod/pytorch` images with torch 2.6 or newer.
pub const PINNED_STACK: [&str; 5] = [
    "transformers==5.24.0",
    "trl==1.16.0",
    "peft==0.21.2",
    "accelerate==1.15.0",
    "datasets==5.2.0",
];

/// The uv a pod fetches with pip when its image has none (`runtime.uv` unset).
pub const UV_VERSION: &str = "0.13.8";

/// Added to the stack for QLoRA.
pub const QLORA_EXTRA: &str = "bitsandbytes==0.50.2";

fn default_checkin_budget_s() -> u32 {
    120
}

fn one() -> u32 {
    1
}

impl Default for PodRuntime {
    fn default() -> Self {
        PodRuntime {
            api_base: crate::runpod::DEFAULT_BASE_URL.to_owned(),
            python: "python3".to_owned(),
            expect_gpu: true,
            min_free_disk_gb: 20,
            heartbeat_s: 30,
            flush_s: 5,
            progress_s: 10,
            upload_reserve_s: 600,
            pip_timeout_s: 1800,
            final_budget_s: 6,
            checkin_budget_s: default_checkin_budget_s(),
            requirements: PINNED_STACK.iter().map(|s| (*s).to_owned()).collect(),
            nodes: 1,
            gpus_per_node: 1,
            uv: None,
            index_url: None,
            find_links: None,
            cache_dir: None,
        }
    }
}

/// Everything the pod needs for one attempt of one job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodScript {
    /// Format version of this config.
    pub version: u32,
    /// The job id (`[A-Za-z0-9_-]`, at most 64 characters).
    pub job_id: String,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// When the job was issued (Unix seconds); preflight checks the pod's clock against it.
    pub issued_at: u64,
    /// The hard deadline (Unix seconds): the pod terminates itself then, whatever it is doing.
    pub deadline_unix: u64,
    /// Where metrics, heartbeats and the final status go; `None` leaves them in the pod log only.
    pub telemetry: Option<Endpoint>,
    /// The dataset.
    pub dataset: DatasetSource,
    /// A second dataset to evaluate on; `None` evaluates on a held-out share of the first, or
    /// not at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_dataset: Option<DatasetSource>,
    /// The training stage.
    pub training: Training,
    /// The artifacts.
    pub artifacts: Artifacts,
    /// Pod behaviour.
    pub runtime: PodRuntime,
    /// The checkpoint this attempt resumes from; `None` trains from the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_source_debug_hides_a_presigned_query_and_the_token() {
        let source = DatasetSource::Url {
            url:
                "https://bucket.example.com/ds.jsonl?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA"
                    .into(),
            token: Some(Secret::new("tok-secret")),
            bytes: 3,
            sha256: "ab".repeat(32),
        };
        let shown = format!("{source:?}");
        assert!(
            shown.contains("https://bucket.example.com/ds.jsonl?<redacted>"),
            "{shown}"
        );
        for secret in ["deadbeef", "AKIA", "tok-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let path = DatasetSource::Path {
            path: "/workspace/ds.jsonl".into(),
            bytes: 3,
            sha256: "ab".repeat(32),
        };
        assert!(format!("{path:?}").contains("/workspace/ds.jsonl"));
    }
}
