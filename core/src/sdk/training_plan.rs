//! How a planned job trains beyond its hyperparameters, as the plan shows it: what saves GPU time
//! (padding-free batches, fused kernels, bf16) and what a failure costs (where checkpoints are
//! kept for a retry to resume from, and the held-out split that can stop a run early).

use serde::{Deserialize, Serialize};

use super::Trainpod;
use super::spec::JobSpec;
use crate::error::Result;
use crate::script::{Hyperparameters, Precision};

/// Where a job's checkpoints are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStore {
    /// Sent to the app's artifacts route, whole with their sha256: a retry resumes from the
    /// newest.
    App,
    /// Copied to the job's network volume: a retry resumes from the newest.
    Volume,
    /// Only on the pod's disk, gone with the pod: a retry starts from step 0 (the job keeps no
    /// artifacts with the app or a volume).
    #[default]
    Pod,
}

/// How the job trains, beyond its hyperparameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrainingPlan {
    /// Padding-free batches (each batch's sequences concatenated, kept apart by their position
    /// ids) where the model's architecture and attention support them; the pod reports whether
    /// it used them in its `started` event.
    pub padding_free: bool,
    /// Liger's fused kernels, used on the GPU: the pod's requirements install `liger-kernel`
    /// (an image that has it gets them too).
    pub fused_kernels: bool,
    /// The precision on the planned GPU: `bf16` on Ampere and newer, `fp16` before.
    pub precision: String,
    /// Where checkpoints are kept.
    pub checkpoints: CheckpointStore,
    /// A checkpoint every this many steps (0: not by steps).
    pub checkpoint_steps: u32,
    /// A checkpoint every this many minutes of training (0: not by the clock).
    pub checkpoint_minutes: u32,
    /// Rows evaluated on: held out of the dataset, or the evaluation dataset's (0: no
    /// evaluation, or an evaluation dataset nobody read).
    pub eval_rows: u64,
    /// Evaluations without improvement that stop the run (0: never stops early).
    pub early_stopping_patience: u32,
}

/// GPUs older than Ampere, which have no bf16: they train in fp16.
const NO_BF16: [&str; 8] = [
    "V100",
    "T4",
    "P100",
    "P40",
    "P4",
    "TITAN",
    "RTX 20",
    "Quadro RTX",
];

/// `bf16` or `fp16`, as the pod's trainer picks on `gpu_id` for `precision`.
fn precision_on(gpu_id: &str, precision: Precision) -> &'static str {
    let bf16 = !NO_BF16.iter().any(|old| gpu_id.contains(old));
    match precision {
        Precision::Fp16 => "fp16",
        Precision::Auto | Precision::Bf16 if bf16 => "bf16",
        Precision::Auto | Precision::Bf16 => "fp16",
    }
}

impl Trainpod {
    /// The training plan of `spec` on `gpu_id`, for a dataset of `rows` rows and an evaluation
    /// dataset of `eval_dataset_rows` (when the spec has one); its warnings go to `warnings`.
    pub(crate) fn training_plan(
        &self,
        spec: &JobSpec,
        hp: &Hyperparameters,
        (rows, eval_dataset_rows): (u64, Option<u64>),
        gpu_id: &str,
        warnings: &mut Vec<String>,
    ) -> Result<TrainingPlan> {
        // As the trainer splits (`datasets`' `train_test_split` rounds the held-out rows up).
        let eval_rows =
            eval_dataset_rows.unwrap_or_else(|| (rows as f64 * hp.eval_fraction).ceil() as u64);
        let checkpoints = match (&self.app_url, &self.artifacts_dir, spec) {
            (Some(_), Some(_), _) => CheckpointStore::App,
            _ if self.volume_mount_of(spec).is_some() => CheckpointStore::Volume,
            _ => CheckpointStore::Pod,
        };
        let plan = TrainingPlan {
            padding_free: hp.padding_free,
            fused_kernels: self
                .runtime
                .requirements
                .iter()
                .any(|r| r.starts_with("liger-kernel") || r.starts_with("liger_kernel")),
            precision: precision_on(gpu_id, hp.precision).to_owned(),
            checkpoints,
            checkpoint_steps: hp.save_steps,
            checkpoint_minutes: hp.save_minutes,
            eval_rows,
            early_stopping_patience: hp.early_stopping_patience,
        };
        warnings.extend(training_warnings(&plan));
        Ok(plan)
    }
}

/// What the user should know about how the job trains.
fn training_warnings(t: &TrainingPlan) -> Vec<String> {
    let mut out = Vec::new();
    if t.checkpoints == CheckpointStore::Pod {
        out.push(
            "checkpoints stay on the pod's disk and go with it: a retry starts from step 0 (give \
             the builder app_url and artifacts_dir, or a network volume, to resume instead)"
                .to_owned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_is_planned_from_ampere_on() {
        assert_eq!(
            precision_on("NVIDIA A100 80GB PCIe", Precision::Auto),
            "bf16"
        );
        assert_eq!(
            precision_on("NVIDIA GeForce RTX 4090", Precision::Bf16),
            "bf16"
        );
        assert_eq!(
            precision_on("Tesla V100-SXM2-16GB", Precision::Auto),
            "fp16"
        );
        assert_eq!(precision_on("Tesla T4", Precision::Bf16), "fp16");
        assert_eq!(
            precision_on("NVIDIA H100 80GB HBM3", Precision::Fp16),
            "fp16"
        );
    }
}
