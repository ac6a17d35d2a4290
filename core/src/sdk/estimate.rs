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

/// The GPUs a run trains on: one process per GPU, `per_node` GPUs on each of `nodes` pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpus {
    /// GPUs per pod (per node).
    pub per_node: u32,
    /// Pods (nodes).
    pub nodes: u32,
}

/// The share of a linear speed-up several GPUs of one pod reach (an assumption, see
/// `docs/estimates.md`: the collectives run over NVLink or PCIe, mostly overlapped with compute).
pub const IN_POD_SCALING: f64 = 0.9;
/// The share of a linear speed-up a run over several nodes reaches: its collectives also cross
/// the cluster's network, slower than a pod's own links (an assumption, see `docs/estimates.md`).
pub const CROSS_NODE_SCALING: f64 = 0.8;
// More GPUs never scale better than fewer, nor beyond linear.
const _: () = assert!(CROSS_NODE_SCALING < IN_POD_SCALING && IN_POD_SCALING < 1.0);

impl Gpus {
    /// One GPU on one pod.
    pub const ONE: Gpus = Gpus {
        per_node: 1,
        nodes: 1,
    };

    /// `per_node` GPUs on each of `nodes` pods.
    pub fn new(per_node: u32, nodes: u32) -> Gpus {
        Gpus { per_node, nodes }
    }

    /// Every GPU of every node: the training processes (torch's world size).
    pub fn world(self) -> u32 {
        self.per_node.max(1).saturating_mul(self.nodes.max(1))
    }

    /// The share of a linear speed-up the run reaches over its GPUs: 1 on one GPU.
    pub fn scaling(self) -> f64 {
        if self.nodes > 1 {
            CROSS_NODE_SCALING
        } else if self.per_node > 1 {
            IN_POD_SCALING
        } else {
            1.0
        }
    }

    /// How many single GPUs' throughput the run has: every GPU, at the scaling it reaches.
    pub fn effective(self) -> f64 {
        f64::from(self.world()) * self.scaling()
    }
}

/// GPU memory a run needs, and the rule that gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemoryEstimate {
    /// GB needed per GPU.
    pub needed_gb: f64,
    /// Bytes per parameter the rule charges for weights, gradients and optimizer state, before
    /// any sharding across GPUs.
    pub bytes_per_param: f64,
    /// The rule, in words, with its numbers.
    pub rule: String,
}

/// Bytes per parameter of the weights as the GPU holds them: bf16, or NF4 with its
/// quantization constants for QLoRA.
fn weight_bytes(method: Method) -> f64 {
    match method {
        Method::Qlora => 0.55,
        Method::Lora | Method::Full => 2.0,
    }
}

/// Bytes per parameter of gradients and optimizer state: full training keeps bf16 gradients (2),
/// fp32 AdamW moments (8) and fp32 master weights (4); LoRA's adapters and their state are about
/// 1% of the weights, which the margins cover.
fn training_state_bytes(method: Method) -> f64 {
    match method {
        Method::Full => 14.0,
        Method::Lora | Method::Qlora => 0.0,
    }
}

/// Activations under gradient checkpointing at the default batch, as a share of the weights;
/// the same share is charged over gradients and optimizer state for the optimizer step's
/// temporaries and the allocator's fragmentation.
const MARGIN: f64 = 0.2;
/// The CUDA context and allocator slack on every GPU, GB.
const CONTEXT_GB: f64 = 2.0;

/// Over how many GPUs the run divides the model's weights, gradients and optimizer state: full
/// training on several GPUs runs FSDP full shard (ZeRO-3), which shards all three across every
/// GPU of every node; LoRA and QLoRA run data parallel, every GPU holding the whole frozen model.
pub fn shards(method: Method, gpus: Gpus) -> u32 {
    match method {
        Method::Full => gpus.world(),
        Method::Lora | Method::Qlora => 1,
    }
}

/// The memory rule of thumb, per GPU: the weights, gradients and optimizer state (each divided
/// by [`shards`]), 20% of the whole weights for activations (each GPU runs its own batch, so
/// sharding leaves them whole), 20% of the gradients' and optimizer state's share for the
/// optimizer step, and 2 GB for the CUDA context. On one GPU this is the state x 1.2 + 2 GB.
pub fn memory_needed(params_b: f64, method: Method, gpus: Gpus) -> MemoryEstimate {
    let n = f64::from(shards(method, gpus));
    let weights = params_b * weight_bytes(method);
    let training = params_b * training_state_bytes(method);
    let state = weights + training;
    let activations = weights * MARGIN;
    let temporaries = training / n * MARGIN;
    let needed_gb = state / n + activations + temporaries + CONTEXT_GB;
    let bytes_per_param = weight_bytes(method) + training_state_bytes(method);
    let head = format!(
        "{params_b} B params x {bytes_per_param} bytes/param ({method}) = {state:.1} GB",
        method = method_name(method),
    );
    let world = gpus.world();
    let rule = if n > 1.0 {
        format!(
            "{head}, sharded by FSDP over {world} GPUs = {shard:.1} GB, + 20% of the weights for \
             activations ({activations:.1} GB, whole on every GPU) + 20% of the gradients' and \
             optimizer's share ({temporaries:.1} GB) + 2 GB CUDA context = {needed_gb:.1} GB per GPU",
            shard = state / n,
        )
    } else {
        let spread = if world > 1 {
            format!(" (data parallel: each of the {world} GPUs holds all of it)")
        } else {
            String::new()
        };
        let margin = if training > 0.0 {
            "activations and optimizer temporaries"
        } else {
            "activations"
        };
        format!("{head}, + 20% {margin} + 2 GB CUDA context = {needed_gb:.1} GB per GPU{spread}")
    };
    MemoryEstimate {
        needed_gb,
        bytes_per_param,
        rule,
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
    /// The job's price, USD per hour: every GPU of every node.
    pub price_per_hour: f64,
    /// The share of a linear speed-up the training time assumes over the job's GPUs (1 on one
    /// GPU; lower across nodes).
    #[serde(default = "linear")]
    pub scaling: f64,
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

fn linear() -> f64 {
    1.0
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
    /// The GPUs it trains on.
    pub gpus: Gpus,
    /// Effective TFLOP/s per GPU, and where it came from.
    pub tflops: (f64, ThroughputSource),
    /// Whether the model is downloaded (a Hub id) or already on the pod (a path).
    pub downloads_model: bool,
}

const GB: f64 = 1e9;
const MB: f64 = 1e6;

/// The cost estimate of `run` at `price_per_hour` (every GPU of every node: RunPod bills each
/// pod of a cluster at its own price). Training divides over the GPUs at the scaling they reach;
/// the other phases run on every node at once. Ranges: provisioning and image pull
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
    let train_s = flops / (tflops * 1e12 * run.gpus.effective());
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
        scaling: run.gpus.scaling(),
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn memory_rule_orders_methods_on_one_gpu() {
        let full = memory_needed(8.0, Method::Full, Gpus::ONE).needed_gb;
        let lora = memory_needed(8.0, Method::Lora, Gpus::ONE).needed_gb;
        let qlora = memory_needed(8.0, Method::Qlora, Gpus::ONE).needed_gb;
        assert!(full > lora && lora > qlora);
        // 8 B x 2 bytes x 1.2 + 2 = 21.2 GB: an 8B LoRA fits a 24 GB card, barely.
        assert!(close(lora, 21.2), "{lora}");
        // 8 B x 16 bytes x 1.2 + 2 = 155.6 GB: one GPU holds the whole state.
        assert!(close(full, 155.6), "{full}");
        assert!(close(qlora, 8.0 * 0.55 * 1.2 + 2.0), "{qlora}");
        assert!(
            memory_needed(8.0, Method::Qlora, Gpus::ONE)
                .rule
                .contains("0.55 bytes/param")
        );
    }

    #[test]
    fn lora_runs_data_parallel_so_more_gpus_need_as_much_each() {
        for method in [Method::Lora, Method::Qlora] {
            let one = memory_needed(8.0, method, Gpus::ONE);
            for gpus in [Gpus::new(8, 1), Gpus::new(2, 4)] {
                let many = memory_needed(8.0, method, gpus);
                assert_eq!(many.needed_gb, one.needed_gb, "{method:?} {gpus:?}");
                assert!(many.rule.contains("data parallel"), "{}", many.rule);
            }
            assert_eq!(shards(method, Gpus::new(8, 2)), 1);
        }
    }

    #[test]
    fn full_training_shards_its_state_over_every_gpu_of_every_node() {
        assert_eq!(shards(Method::Full, Gpus::new(4, 2)), 8);
        let four = memory_needed(8.0, Method::Full, Gpus::new(4, 1));
        // 128 GB / 4 = 32 GB of state, + 20% of the whole 16 GB of weights for activations
        // (3.2 GB), + 20% of the 112 GB / 4 of gradients and optimizer state (5.6 GB), + 2 GB.
        assert!(close(four.needed_gb, 42.8), "{}", four.needed_gb);
        assert!(four.rule.contains("FSDP over 4 GPUs"), "{}", four.rule);
        assert!(four.rule.contains("42.8 GB per GPU"), "{}", four.rule);
        assert_eq!(four.bytes_per_param, 16.0);
        // Two nodes of two GPUs shard as four GPUs of one pod do.
        let spread = memory_needed(8.0, Method::Full, Gpus::new(2, 2));
        assert_eq!(spread.needed_gb, four.needed_gb);
        // Activations and the CUDA context stay whole on every GPU: however many GPUs, a GPU
        // needs at least 20% of the weights + 2 GB.
        let many = memory_needed(8.0, Method::Full, Gpus::new(8, 16)).needed_gb;
        assert!(many > 8.0 * 2.0 * 0.2 + 2.0, "{many}");
        assert!(many < 8.0 * 2.0 * 0.2 + 2.0 + 1.5, "{many}");
    }

    #[test]
    fn gpus_scale_below_linear_and_less_across_nodes() {
        assert_eq!(Gpus::ONE.world(), 1);
        assert!(close(Gpus::ONE.effective(), 1.0));
        assert_eq!(Gpus::new(4, 2).world(), 8);
        assert!(close(Gpus::new(4, 1).effective(), 4.0 * IN_POD_SCALING));
        assert!(close(Gpus::new(4, 2).effective(), 8.0 * CROSS_NODE_SCALING));
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
            gpus: Gpus::ONE,
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
        assert_eq!(a.scaling, 1.0);
    }

    #[test]
    fn training_divides_over_every_gpu_at_the_scaling_it_reaches() {
        let one = RunShape {
            params_b: 8.0,
            method: Method::Full,
            checkpointing: true,
            train_tokens: 10_000_000.0,
            dataset_bytes: 40_000_000,
            gpus: Gpus::ONE,
            tflops: (50.0, ThroughputSource::Measured { samples: 1 }),
            downloads_model: true,
        };
        let cluster = RunShape {
            gpus: Gpus::new(4, 2),
            ..one.clone()
        };
        let phase = |e: &CostEstimate, name: &str| {
            e.lines
                .iter()
                .find(|l| l.phase == name)
                .map_or(f64::NAN, |l| l.seconds_high)
        };
        let (a, b) = (estimate_cost(&one, 2.0), estimate_cost(&cluster, 16.0));
        // Eight GPUs over two nodes train 8 x 0.8 = 6.4 times as fast as one.
        assert!(close(phase(&a, "training") / phase(&b, "training"), 6.4));
        assert!(close(b.scaling, CROSS_NODE_SCALING));
        // Every node provisions and downloads at once: those phases take as long as on one pod.
        assert_eq!(phase(&a, "provisioning"), phase(&b, "provisioning"));
        assert_eq!(phase(&a, "model_download"), phase(&b, "model_download"));
        // The cluster's price (8 GPUs x 2 USD) bills every second of it.
        assert!(close(b.usd_high, b.seconds_high / 3600.0 * 16.0));
        assert_eq!(b.training_flops, a.training_flops);
    }
}
