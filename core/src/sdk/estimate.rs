//! Rules of thumb for a plan, each documented with the numbers it uses (`docs/estimates.md`):
//! whether a model fits a GPU, how many tokens a dataset holds, how long training takes, and what
//! each phase of a job costs at a price.

use serde::{Deserialize, Serialize};

use crate::script::Method;

/// Dense bf16 tensor TFLOP/s per GPU (vendor datasheets, without sparsity), by catalog id.
const PEAK_TFLOPS: &[(&str, f64)] = &[
    ("NVIDIA GeForce RTX 3090", 71.0),
    ("NVIDIA GeForce RTX 4090", 165.0),
    ("NVIDIA GeForce RTX 5090", 209.0),
    ("NVIDIA RTX A5000", 111.0),
    ("NVIDIA RTX A6000", 155.0),
    ("NVIDIA RTX 4000 Ada Generation", 107.0),
    ("NVIDIA RTX 6000 Ada Generation", 364.0),
    ("NVIDIA L4", 121.0),
    ("NVIDIA A40", 150.0),
    ("NVIDIA L40", 181.0),
    ("NVIDIA L40S", 362.0),
    ("NVIDIA A100 80GB PCIe", 312.0),
    ("NVIDIA A100-SXM4-80GB", 312.0),
    ("NVIDIA H100 PCIe", 756.0),
    ("NVIDIA H100 NVL", 835.0),
    ("NVIDIA H100 80GB HBM3", 989.0),
    ("NVIDIA H200", 989.0),
    ("NVIDIA B200", 2250.0),
];

/// Assumed for a GPU the table does not know (a plan warns when it is used).
pub const UNKNOWN_GPU_TFLOPS: f64 = 100.0;

/// Model FLOPs utilisation a fine-tuning run reaches: about a third of peak with bf16 LoRA or
/// full training (padding, small batches, optimizer steps); QLoRA dequantizes every matmul.
fn mfu(method: Method) -> f64 {
    match method {
        Method::Qlora => 0.25,
        Method::Lora | Method::Full => 0.35,
    }
}

/// Peak dense bf16 TFLOP/s of a catalog GPU id, if the table knows it.
pub fn peak_tflops(gpu_id: &str) -> Option<f64> {
    PEAK_TFLOPS
        .iter()
        .find(|(id, _)| *id == gpu_id)
        .map(|(_, t)| *t)
}

/// The model's size in billions of parameters, read from its name (`Llama-3.1-8B` → 8,
/// `Qwen2.5-0.5B-Instruct` → 0.5, `SmolLM2-135M` → 0.135).
pub fn params_from_name(model: &str) -> Option<f64> {
    let name = model.rsplit('/').next().unwrap_or(model);
    let bytes = name.as_bytes();
    let mut best = None;
    for (i, unit) in bytes.iter().enumerate() {
        let scale = match unit {
            b'B' | b'b' => 1.0,
            b'M' | b'm' => 1e-3,
            _ => continue,
        };
        // The unit must end a token: `8B`, `8B-Instruct`, not `8Bit` or `Base`.
        if bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|c| !(c.is_ascii_digit() || *c == b'.'))
            .map_or(0, |p| p + 1);
        if let Ok(n) = name[start..i].parse::<f64>()
            && n > 0.0
        {
            best = Some(n * scale);
        }
    }
    best
}

/// GPU memory a run needs, and the rule that gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemoryEstimate {
    /// GB needed per GPU.
    pub needed_gb: f64,
    /// Bytes per parameter the rule charges for weights, gradients and optimizer state.
    pub bytes_per_param: f64,
    /// The rule, in words, with its numbers.
    pub rule: String,
}

/// The memory rule of thumb: weights, gradients and optimizer state per parameter (bf16 weights
/// are 2 bytes; full training adds bf16 gradients and fp32 AdamW moments and master weights,
/// 16 bytes in all; QLoRA stores NF4 weights at about 0.55 bytes), plus 20% for activations
/// under gradient checkpointing and 2 GB for the CUDA context and allocator slack.
pub fn memory_needed(params_b: f64, method: Method, gpus: u32) -> MemoryEstimate {
    let bytes_per_param = match method {
        Method::Full => 16.0,
        Method::Lora => 2.0,
        Method::Qlora => 0.55,
    };
    let state_gb = params_b * bytes_per_param / f64::from(gpus.max(1));
    let needed_gb = state_gb * 1.2 + 2.0;
    MemoryEstimate {
        needed_gb,
        bytes_per_param,
        rule: format!(
            "{params_b} B params x {bytes_per_param} bytes/param ({method}) / {gpus} GPU(s) \
             = {state_gb:.1} GB, + 20% activations + 2 GB CUDA context = {needed_gb:.1} GB",
            method = method_name(method),
        ),
    }
}

/// The method's stable name.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Lora => "lora",
        Method::Qlora => "qlora",
        Method::Full => "full",
    }
}

/// Tokens in a dataset, from its size: about 4 bytes of JSON per token, each example truncated
/// at `max_length`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatasetTokens {
    /// Tokens in one pass over the dataset, after truncation.
    pub per_epoch: f64,
    /// Tokens in the longest example, before truncation.
    pub longest_example: f64,
}

/// Bytes of JSON per token, for English text and chat markup.
pub const BYTES_PER_TOKEN: f64 = 4.0;

/// Estimate the tokens of a dataset of `rows` examples in `bytes`.
pub fn dataset_tokens(
    rows: u64,
    bytes: u64,
    longest_row_bytes: u64,
    max_length: u32,
) -> DatasetTokens {
    let rows_f = rows.max(1) as f64;
    let per_example = (bytes as f64 / rows_f / BYTES_PER_TOKEN).min(f64::from(max_length));
    DatasetTokens {
        per_epoch: per_example * rows as f64,
        longest_example: longest_row_bytes as f64 / BYTES_PER_TOKEN,
    }
}

/// FLOPs per trained token per parameter: forward 2, backward 4 for full training; LoRA skips
/// the frozen weights' gradients (backward 2); gradient checkpointing repeats the forward.
pub fn flops_per_token_param(method: Method, checkpointing: bool) -> f64 {
    let base = match method {
        Method::Full => 6.0,
        Method::Lora | Method::Qlora => 4.0,
    };
    if checkpointing { base + 2.0 } else { base }
}

/// Where a training-time estimate came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThroughputSource {
    /// Peak TFLOP/s x utilisation.
    #[cfg_attr(feature = "schema", schemars(title = "HeuristicThroughput"))]
    Heuristic {
        /// Peak dense bf16 TFLOP/s assumed per GPU.
        peak_tflops: f64,
        /// Utilisation assumed.
        mfu: f64,
    },
    /// The median of what earlier jobs on this GPU type and method measured.
    #[cfg_attr(feature = "schema", schemars(title = "MeasuredThroughput"))]
    Measured {
        /// How many jobs.
        samples: usize,
    },
}

/// How far a measured throughput may stray from the rule of thumb, either way, and still be
/// used: a real run is rarely 5x off peak x utilisation, and a figure further off was measured
/// on something else (a CPU standing in for a GPU, a broken run).
const SENSE: f64 = 5.0;

/// The median of `measured` and the rule of thumb's figure, when the median is too far from the
/// rule to be believed (the plan then uses the rule, and says so).
pub fn implausible(gpu_id: &str, method: Method, measured: &[f64]) -> Option<(f64, f64)> {
    let (median, source) = effective_tflops(gpu_id, method, measured);
    let ThroughputSource::Measured { .. } = source else {
        return None;
    };
    let (rule, _) = effective_tflops(gpu_id, method, &[]);
    (median < rule / SENSE || median > rule * SENSE).then_some((median, rule))
}

/// Effective TFLOP/s per GPU for a run: the median of `measured` (newest first) when there is
/// any, else peak x utilisation.
pub fn effective_tflops(gpu_id: &str, method: Method, measured: &[f64]) -> (f64, ThroughputSource) {
    let mut samples: Vec<f64> = measured
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0)
        .collect();
    if !samples.is_empty() {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        return (
            median,
            ThroughputSource::Measured {
                samples: samples.len(),
            },
        );
    }
    let peak = peak_tflops(gpu_id).unwrap_or(UNKNOWN_GPU_TFLOPS);
    let mfu = mfu(method);
    (
        peak * mfu,
        ThroughputSource::Heuristic {
            peak_tflops: peak,
            mfu,
        },
    )
}

/// One phase of a job, with its time and cost as a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostLine {
    /// `provisioning`, `dependencies`, `model_download`, `dataset_transfer`, `training`, `upload`.
    pub phase: String,
    /// Seconds, optimistic.
    pub seconds_low: f64,
    /// Seconds, pessimistic.
    pub seconds_high: f64,
    /// USD, optimistic.
    pub usd_low: f64,
    /// USD, pessimistic.
    pub usd_high: f64,
}

/// What a job is expected to cost, phase by phase, billed per second from pod creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostEstimate {
    /// Each phase.
    pub lines: Vec<CostLine>,
    /// Total seconds, optimistic.
    pub seconds_low: f64,
    /// Total seconds, pessimistic.
    pub seconds_high: f64,
    /// Total USD, optimistic.
    pub usd_low: f64,
    /// Total USD, pessimistic.
    pub usd_high: f64,
    /// The pod's price, USD per hour (all its GPUs).
    pub price_per_hour: f64,
    /// Training FLOPs estimated (what a measured run's throughput is computed against).
    pub training_flops: f64,
    /// Where the training time came from.
    pub throughput: ThroughputSource,
    /// What RunPod billed recent jobs on this GPU type over what their plans estimated (the
    /// median of the last few): every figure above is already scaled by it. `None` before any
    /// such job was billed.
    #[serde(default)]
    pub billed_ratio: Option<f64>,
}

impl CostEstimate {
    /// This estimate calibrated by what earlier jobs were billed over their estimates: at one
    /// price, a bill `ratio` times the estimate is a pod that ran `ratio` times as long.
    pub fn calibrated(mut self, ratio: f64) -> CostEstimate {
        for line in &mut self.lines {
            line.seconds_low *= ratio;
            line.seconds_high *= ratio;
            line.usd_low *= ratio;
            line.usd_high *= ratio;
        }
        self.seconds_low *= ratio;
        self.seconds_high *= ratio;
        self.usd_low *= ratio;
        self.usd_high *= ratio;
        self.billed_ratio = Some(ratio);
        self
    }
}

/// What the estimate needs to know about a run.
#[derive(Clone, Debug)]
pub struct RunShape {
    /// Model size, billions of parameters.
    pub params_b: f64,
    /// Method.
    pub method: Method,
    /// Gradient checkpointing on.
    pub checkpointing: bool,
    /// Tokens trained on (all epochs).
    pub train_tokens: f64,
    /// Dataset bytes the pod downloads.
    pub dataset_bytes: u64,
    /// GPUs in the pod.
    pub gpus: u32,
    /// Effective TFLOP/s per GPU, and where it came from.
    pub tflops: (f64, ThroughputSource),
    /// Whether the model is downloaded (a Hub id) or already on the pod (a path).
    pub downloads_model: bool,
}

const GB: f64 = 1e9;
const MB: f64 = 1e6;

/// The cost estimate of `run` at `price_per_hour` (all GPUs). Ranges: provisioning and image pull
/// 1-5 min; dependencies 0.5-3 min (the pinned stack against the image's torch); model download at
/// 500-100 MB/s; dataset at 100-10 MB/s; training x0.7-1.5 of the estimate (x0.85-1.2 when measured);
/// upload at 100-20 MB/s.
pub fn estimate_cost(run: &RunShape, price_per_hour: f64) -> CostEstimate {
    let weights_bytes = run.params_b * GB * 2.0;
    let flops = run.train_tokens
        * run.params_b
        * 1e9
        * flops_per_token_param(run.method, run.checkpointing);
    let (tflops, source) = run.tflops.clone();
    let train_s = flops / (tflops * 1e12 * f64::from(run.gpus.max(1)));
    let (lo, hi) = match source {
        ThroughputSource::Measured { .. } => (0.85, 1.2),
        ThroughputSource::Heuristic { .. } => (0.7, 1.5),
    };
    let artifact_bytes = match run.method {
        Method::Full => weights_bytes,
        // Adapters at rank 16 on the attention and MLP projections: about 0.5% of the weights.
        Method::Lora | Method::Qlora => weights_bytes * 0.005,
    };
    let model_s = |rate: f64| {
        if run.downloads_model {
            weights_bytes / rate
        } else {
            0.0
        }
    };
    let phases = [
        ("provisioning", 60.0, 300.0),
        ("dependencies", 30.0, 180.0),
        ("model_download", model_s(500.0 * MB), model_s(100.0 * MB)),
        (
            "dataset_transfer",
            run.dataset_bytes as f64 / (100.0 * MB),
            run.dataset_bytes as f64 / (10.0 * MB),
        ),
        ("training", train_s * lo, train_s * hi),
        (
            "upload",
            artifact_bytes / (100.0 * MB),
            artifact_bytes / (20.0 * MB),
        ),
    ];
    let usd = |s: f64| s / 3600.0 * price_per_hour;
    let lines: Vec<CostLine> = phases
        .iter()
        .map(|(phase, low, high)| CostLine {
            phase: (*phase).to_owned(),
            seconds_low: *low,
            seconds_high: *high,
            usd_low: usd(*low),
            usd_high: usd(*high),
        })
        .collect();
    let seconds_low: f64 = lines.iter().map(|l| l.seconds_low).sum();
    let seconds_high: f64 = lines.iter().map(|l| l.seconds_high).sum();
    CostEstimate {
        seconds_low,
        seconds_high,
        usd_low: usd(seconds_low),
        usd_high: usd(seconds_high),
        lines,
        price_per_hour,
        training_flops: flops,
        throughput: source,
        billed_ratio: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_sizes_are_read_from_names() {
        assert_eq!(
            params_from_name("meta-llama/Llama-3.1-8B-Instruct"),
            Some(8.0)
        );
        assert_eq!(params_from_name("Qwen/Qwen2.5-0.5B"), Some(0.5));
        assert_eq!(params_from_name("HuggingFaceTB/SmolLM2-135M"), Some(0.135));
        assert_eq!(params_from_name("mistralai/Mixtral-8x7B-v0.1"), Some(7.0));
        assert_eq!(params_from_name("/workspace/model"), None);
        assert_eq!(params_from_name("org/Base-8Bit"), None);
    }

    #[test]
    fn memory_rule_orders_methods_and_splits_over_gpus() {
        let full = memory_needed(8.0, Method::Full, 1).needed_gb;
        let lora = memory_needed(8.0, Method::Lora, 1).needed_gb;
        let qlora = memory_needed(8.0, Method::Qlora, 1).needed_gb;
        assert!(full > lora && lora > qlora);
        // 8 B x 2 bytes x 1.2 + 2 = 21.2 GB: an 8B LoRA fits a 24 GB card, barely.
        assert!((lora - 21.2).abs() < 1e-9, "{lora}");
        assert!(memory_needed(8.0, Method::Full, 4).needed_gb < full / 3.0);
        assert!(
            memory_needed(8.0, Method::Qlora, 1)
                .rule
                .contains("0.55 bytes/param")
        );
    }

    #[test]
    fn measured_throughput_replaces_the_heuristic() {
        let (t, s) = effective_tflops("NVIDIA GeForce RTX 4090", Method::Lora, &[]);
        assert!((t - 165.0 * 0.35).abs() < 1e-9);
        assert!(matches!(s, ThroughputSource::Heuristic { .. }));
        let (t, s) = effective_tflops("NVIDIA GeForce RTX 4090", Method::Lora, &[30.0, 10.0, 20.0]);
        assert_eq!(t, 20.0);
        assert_eq!(s, ThroughputSource::Measured { samples: 3 });
    }

    #[test]
    fn a_measurement_far_from_the_rule_of_thumb_is_not_believed() {
        let gpu = "NVIDIA GeForce RTX 4090";
        // The rule gives 165 x 0.35 = 57.75 TFLOP/s; a CPU standing in for it measures 0.01.
        assert_eq!(implausible(gpu, Method::Lora, &[20.0, 30.0]), None);
        let (median, rule) =
            implausible(gpu, Method::Lora, &[0.01, 0.02]).unwrap_or_else(|| panic!("believed"));
        assert_eq!(median, 0.02);
        assert!((rule - 57.75).abs() < 1e-9);
        assert!(implausible(gpu, Method::Lora, &[400.0]).is_some());
        assert_eq!(implausible(gpu, Method::Lora, &[]), None);
    }

    #[test]
    fn cost_lines_add_up_and_scale_with_price() {
        let run = RunShape {
            params_b: 8.0,
            method: Method::Lora,
            checkpointing: true,
            train_tokens: 10_000_000.0,
            dataset_bytes: 40_000_000,
            gpus: 1,
            tflops: (50.0, ThroughputSource::Measured { samples: 1 }),
            downloads_model: true,
        };
        let a = estimate_cost(&run, 0.5);
        let b = estimate_cost(&run, 1.0);
        let sum: f64 = a.lines.iter().map(|l| l.usd_high).sum();
        assert!((sum - a.usd_high).abs() < 1e-9);
        assert!((b.usd_low - 2.0 * a.usd_low).abs() < 1e-9);
        // 1e7 tokens x 8e9 params x 6 FLOPs / 50e12 = 9600 s of training.
        let training = a.lines.iter().find(|l| l.phase == "training").unwrap();
        assert!((training.seconds_low - 9600.0 * 0.85).abs() < 1e-6);
        assert_eq!(a.lines.len(), 6);
    }
}
