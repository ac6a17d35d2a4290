// Generated from core's types by
// `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.
// The plain objects `Trainpod` takes and returns: core's serde types with camelCase keys
// (src/json.rs converts the keys, nothing else). Enum values keep core's spelling.

/**
 * A dataset served by the app: the file `<datasets dir>/<id>`, downloaded by the pod through a
 * signed URL scoped to the job.
 */
export interface AppDataset {
  kind: 'app';
  /** The dataset id. */
  id: string;
}

/**
 * An object in the builder's S3-compatible bucket (uploaded with `BucketStaging::upload_file`),
 * fetched by the pod through a presigned GET issued at deploy for each attempt.
 */
export interface BucketDataset {
  kind: 'bucket';
  /** The object key. */
  key: string;
  /** Size in bytes. */
  bytes: number;
  /** sha256, lowercase hex. */
  sha256: string;
}

/**
 * A file on the builder's RunPod network volume (uploaded with `VolumeStaging`), read by the pod
 * from its mount; the pod runs in the volume's data center and leaves its artifacts on the volume
 * when no app receives them.
 */
export interface VolumeDataset {
  kind: 'volume';
  /** The object key on the volume (its path under the mount). */
  key: string;
  /** Size in bytes. */
  bytes: number;
  /** sha256, lowercase hex. */
  sha256: string;
}

/** A public https URL, checked on the pod against the size and sha256 given here. */
export interface UrlDataset {
  kind: 'url';
  /** The URL. */
  url: string;
  /** Size in bytes. */
  bytes: number;
  /** sha256, lowercase hex. */
  sha256: string;
}

/** Where the dataset comes from. */
export type DatasetRef = AppDataset | BucketDataset | VolumeDataset | UrlDataset;

/**
 * How the model is adapted.
 *
 * - `'lora'`: LoRA adapters on a bf16 (or fp16) base.
 * - `'qlora'`: LoRA adapters on a 4-bit NF4 base (needs a CUDA GPU and bitsandbytes).
 * - `'full'`: Every weight.
 */
export type Method = 'lora' | 'qlora' | 'full';

/** `"all-linear"` (every linear layer but the output head) or module names. */
export type LoraTargetModules = 'all-linear' | string[];

/**
 * Numeric precision on the GPU; CPU always trains in full precision.
 *
 * - `'auto'`: bf16 where the GPU supports it, else fp16.
 * - `'bf16'`: bf16 (falls back to fp16 on GPUs older than Ampere).
 * - `'fp16'`: fp16.
 */
export type Precision = 'auto' | 'bf16' | 'fp16';

/**
 * Training hyperparameters, with the defaults the training notes recommend. Each one's meaning,
 * default and allowed range are in `docs/hyperparameters.md`.
 */
export interface Hyperparameters {
  /** Passes over the dataset (ignored when `max_steps` is set). */
  epochs: number;
  /** Stop after this many optimizer steps; 0 means epochs decide. */
  maxSteps: number;
  /** Examples per device per step. */
  batchSize: number;
  /** Batches accumulated per optimizer step. */
  gradientAccumulationSteps: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Tokens per example; longer examples are truncated (TRL's 1024 default truncates silently). */
  maxLength: number;
  /** Log every this many steps. */
  loggingSteps: number;
  /**
   * Save a checkpoint every this many steps; 0 leaves it to `save_minutes`. Each checkpoint is
   * copied whole to where the job keeps its artifacts, and a retry resumes from the newest.
   */
  saveSteps: number;
  /**
   * Save a checkpoint every this many minutes of training as well; 0 never by the clock. Absent in
   * older specs: 30.
   */
  saveMinutes: number;
  /** The share of the dataset held out to evaluate on (0 up to 0.5); 0 evaluates nothing. */
  evalFraction: number;
  /** Evaluate every this many steps; 0 evaluates about ten times in the run. */
  evalSteps: number;
  /**
   * Stop when the held-out loss has not improved for this many evaluations in a row, and keep the
   * best checkpoint as the model; 0 never stops early. Needs `eval_fraction`.
   */
  earlyStoppingPatience: number;
  /**
   * Train on padding-free batches (each batch's sequences concatenated, kept apart by their
   * position ids) where the model's architecture and attention support it, padded batches
   * otherwise. Absent in older specs: true.
   */
  paddingFree: boolean;
  /** LoRA rank. */
  loraR: number;
  /** LoRA alpha. */
  loraAlpha: number;
  /** LoRA dropout. */
  loraDropout: number;
  /**
   * The modules LoRA adapts: `"all-linear"` (every linear layer but the output head) or a list of
   * module names such as `["q_proj", "v_proj"]`. Absent in older specs: every linear layer, as
   * before the field existed.
   */
  loraTargetModules: LoraTargetModules;
  /** Trade compute for memory on the GPU. */
  gradientCheckpointing: boolean;
  /** Precision on the GPU. */
  precision: Precision;
  /** Random seed. */
  seed: number;
}

/**
 * Cloud tier.
 *
 * - `'SECURE'`: RunPod's secure cloud (the default).
 * - `'COMMUNITY'`: Community hosts.
 */
export type Cloud = 'SECURE' | 'COMMUNITY';

/** One training job, complete (as a plan carries it). */
export interface JobSpec {
  /**
   * The job id (`[A-Za-z0-9_-]`, at most 48 characters); generated when `null`. Deploying the same
   * id twice never creates two pods.
   */
  jobId: string | null;
  /** The user the job belongs to (tokens are scoped to it). */
  user: string;
  /**
   * The RunPod account the job runs on, whose key the builder's credentials resolver gives; `null`:
   * the builder's own key.
   */
  account: string | null;
  /** A Hugging Face model id (`org/name`) or an absolute path in the pod. */
  model: string;
  /** Model size in billions of parameters; read from the model's name when `null`. */
  paramsB: number | null;
  /** The dataset. */
  dataset: DatasetRef;
  /**
   * A second dataset to evaluate on, instead of holding out `hyperparameters.eval_fraction` of the
   * first (evaluated every `eval_steps`, watched by `early_stopping_patience`). On a network volume
   * only when `dataset` is on it too.
   */
  evalDataset: DatasetRef | null;
  /** LoRA (default), QLoRA or full. */
  method: Method;
  /** Hyperparameters; the method's defaults when `null`. */
  hyperparameters: Hyperparameters | null;
  /** GPU types to use, in order of preference; empty picks the cheapest that fits. */
  gpus: string[];
  /**
   * GPUs per pod (per node), at least: more than one trains one process per GPU under `accelerate`.
   * `plan` raises it (up to 8) when a full fine-tune's share of the model needs more GPUs to fit,
   * and says so; it never lowers it.
   */
  gpuCount: number;
  /**
   * Pods (nodes) in the job: more than one creates a RunPod Instant Cluster of `nodes` pods of
   * `gpu_count` GPUs each, trained as one job.
   */
  nodes: number;
  /** Secure (default) or community cloud. */
  cloud: Cloud;
  /** Data centers to allow, in order; empty lets RunPod choose. */
  dataCenters: string[];
  /** The most the job may cost, USD: it sets the pod's hard deadline at the chosen price. */
  budgetUsd: number;
  /** A shorter deadline than the budget buys, in hours. */
  maxHours: number | null;
  /** The container image; trainpod's default PyTorch image when `null`. */
  image: string | null;
  /**
   * The caller vouches that `image` carries Python 3.11+ and torch 2.6+ (an image trainpod cannot
   * tell from its name).
   */
  imageVouched: boolean;
}

/**
 * The shape of a dataset's rows, as TRL's `SFTTrainer` reads them.
 *
 * - `'messages'`: `{"messages": [{"role": "user", "content": "…"}, …]}` (conversational).
 * - `'prompt_completion'`: `{"prompt": "…", "completion": "…"}`.
 * - `'text'`: `{"text": "…"}` (language modelling).
 * - `'alpaca'`: `{"instruction": "…", "input": "…", "output": "…"}`, converted to prompt/completion
 * on request.
 */
export type DatasetFormat = 'messages' | 'prompt_completion' | 'text' | 'alpaca';

/**
 * Tokens in a dataset, from its size: about 4 bytes of JSON per token, each example truncated at
 * `max_length`.
 */
export interface DatasetTokens {
  /** Tokens in one pass over the dataset, after truncation. */
  perEpoch: number;
  /** Tokens in the longest example, before truncation. */
  longestExample: number;
}

/** What the dataset holds, as inspected. */
export interface DatasetSummary {
  /** The rows' format, when the app's copy was inspected. */
  format: DatasetFormat | null;
  /** Rows (0 when not inspected: a public URL). */
  rows: number;
  /** Bytes the pod downloads. */
  bytes: number;
  /** sha256 the pod checks, lowercase hex. */
  sha256: string;
  /** Estimated tokens. */
  tokens: DatasetTokens;
}

/** GPU memory a run needs, and the rule that gave it. */
export interface MemoryEstimate {
  /** GB needed per GPU. */
  neededGb: number;
  /**
   * Bytes per parameter the rule charges for weights, gradients and optimizer state, before any
   * sharding across GPUs.
   */
  bytesPerParam: number;
  /** The rule, in words, with its numbers. */
  rule: string;
}

/** One phase of a job, with its time and cost as a range. */
export interface CostLine {
  /** `provisioning`, `dependencies`, `model_download`, `dataset_transfer`, `training`, `upload`. */
  phase: string;
  /** Seconds, optimistic. */
  secondsLow: number;
  /** Seconds, pessimistic. */
  secondsHigh: number;
  /** USD, optimistic. */
  usdLow: number;
  /** USD, pessimistic. */
  usdHigh: number;
}

/** Peak TFLOP/s x utilisation. */
export interface HeuristicThroughput {
  kind: 'heuristic';
  /** Peak dense bf16 TFLOP/s assumed per GPU. */
  peakTflops: number;
  /** Utilisation assumed. */
  mfu: number;
}

/** The median of what earlier jobs on this GPU type and method measured. */
export interface MeasuredThroughput {
  kind: 'measured';
  /** How many jobs. */
  samples: number;
}

/** Where a training-time estimate came from. */
export type ThroughputSource = HeuristicThroughput | MeasuredThroughput;

/** What a job is expected to cost, phase by phase, billed per second from pod creation. */
export interface CostEstimate {
  /** Each phase. */
  lines: CostLine[];
  /** Total seconds, optimistic. */
  secondsLow: number;
  /** Total seconds, pessimistic. */
  secondsHigh: number;
  /** Total USD, optimistic. */
  usdLow: number;
  /** Total USD, pessimistic. */
  usdHigh: number;
  /** The job's price, USD per hour: every GPU of every node. */
  pricePerHour: number;
  /**
   * The share of a linear speed-up the training time assumes over the job's GPUs (1 on one GPU;
   * lower across nodes).
   */
  scaling: number;
  /** Training FLOPs estimated (what a measured run's throughput is computed against). */
  trainingFlops: number;
  /** Where the training time came from. */
  throughput: ThroughputSource;
  /**
   * What RunPod billed recent jobs on this GPU type over what their plans estimated (the median of
   * the last few): every figure above is already scaled by it. `null` before any such job was
   * billed.
   */
  billedRatio: number | null;
}

/** One GPU placement: a GPU type, and how many of it each pod (each node) has. */
export interface GpuChoice {
  /** Catalog id. */
  gpuId: string;
  /**
   * GPUs per pod: the spec's `gpu_count`, or more when the model's share needs more GPUs of this
   * type to fit.
   */
  count: number;
  /** Memory per GPU, GB. */
  memoryGb: number;
  /** The job's price, USD per hour: every GPU of every node. */
  pricePerHour: number;
  /** Availability, when the catalog said. */
  availability: string | null;
  /** What the whole job is estimated to cost on it. */
  estimate: CostEstimate;
}

/**
 * Where a job's checkpoints are kept.
 *
 * - `'app'`: Sent to the app's artifacts route, whole with their sha256: a retry resumes from the
 * newest.
 * - `'volume'`: Copied to the job's network volume: a retry resumes from the newest.
 * - `'pod'`: Only on the pod's disk, gone with the pod: a retry starts from step 0 (the job keeps
 * no artifacts with the app or a volume).
 */
export type CheckpointStore = 'app' | 'volume' | 'pod';

/** How the job trains, beyond its hyperparameters. */
export interface TrainingPlan {
  /**
   * Padding-free batches (each batch's sequences concatenated, kept apart by their position ids)
   * where the model's architecture and attention support them; the pod reports whether it used them
   * in its `started` event.
   */
  paddingFree: boolean;
  /**
   * Liger's fused kernels, used on the GPU: the pod's requirements install `liger-kernel` (an image
   * that has it gets them too).
   */
  fusedKernels: boolean;
  /** The precision on the planned GPU: `bf16` on Ampere and newer, `fp16` before. */
  precision: string;
  /** Where checkpoints are kept. */
  checkpoints: CheckpointStore;
  /** A checkpoint every this many steps (0: not by steps). */
  checkpointSteps: number;
  /** A checkpoint every this many minutes of training (0: not by the clock). */
  checkpointMinutes: number;
  /**
   * Rows evaluated on: held out of the dataset, or the evaluation dataset's (0: no evaluation, or
   * an evaluation dataset nobody read).
   */
  evalRows: number;
  /** Evaluations without improvement that stop the run (0: never stops early). */
  earlyStoppingPatience: number;
}

/** A checked job, ready to deploy. */
export interface Plan {
  /** The job id. */
  jobId: string;
  /** What was asked for. */
  spec: JobSpec;
  /** The hyperparameters it runs with. */
  hyperparameters: Hyperparameters;
  /** Model size used for the estimates, billions of parameters. */
  paramsB: number;
  /** The dataset. */
  dataset: DatasetSummary;
  /** The evaluation dataset (`spec.eval_dataset`), as inspected. Absent in older plans. */
  evalDataset: DatasetSummary | null;
  /** GPU memory needed per GPU of the chosen placement, with the rule. */
  memory: MemoryEstimate;
  /** The chosen GPU: the cheapest that fits by estimate, or the first of `spec.gpus` that does. */
  gpu: GpuChoice;
  /**
   * Others to try, in order, when the chosen one has no capacity, each with its own count, price
   * and estimate.
   */
  fallbacks: GpuChoice[];
  /** The chosen GPU's estimate (the same as `gpu.estimate`). */
  estimate: CostEstimate;
  /**
   * The hard deadline after creation, seconds: what the budget buys at the chosen price, every
   * node's (or `max_hours`, when shorter).
   */
  deadlineSecs: number;
  /** The container image. */
  image: string;
  /**
   * How it trains beyond its hyperparameters: padding-free batches, fused kernels, precision, where
   * checkpoints are kept, the held-out split. Absent in older plans.
   */
  training: TrainingPlan;
  /** What the user should know before deploying. */
  warnings: string[];
  /** Unix seconds. */
  createdAt: number;
}

/**
 * Where a job is.
 *
 * - `'queued'`: Recorded, no pod asked for yet.
 * - `'provisioning'`: The pod is being created or its image pulled.
 * - `'starting'`: The pod runs its preflight and installs dependencies.
 * - `'downloading'`: The pod fetches the dataset.
 * - `'training'`: Training.
 * - `'uploading'`: Uploading artifacts.
 * - `'succeeded'`: Done, artifacts confirmed.
 * - `'failed'`: Ended by an error.
 * - `'cancelled'`: Ended on request.
 * - `'timed_out'`: Ended at its deadline.
 * - `'over_budget'`: Ended because its cost reached the budget.
 */
export type JobState =
  | 'queued'
  | 'provisioning'
  | 'starting'
  | 'downloading'
  | 'training'
  | 'uploading'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'timed_out'
  | 'over_budget';

/** A job's status. */
export interface JobStatus {
  /** The job id. */
  jobId: string;
  /**
   * The user the job belongs to (the spec's `user`): what an app checks before showing, cancelling
   * or retrying it.
   */
  user: string;
  /** The attempt, from 1. */
  attempt: number;
  /** Where the job is. */
  state: JobState;
  /**
   * Why it ended, when it did not succeed: a stable code (the failed stage, `deadline`,
   * `pod_vanished`, `cuda_unsupported`, `container_restarted`, ...).
   */
  reason: string;
  /**
   * What happened, in plain words, with what to do (for a trainer's exception, its type and
   * message); empty while the job runs as it should.
   */
  cause: string;
  /**
   * The stage the pod last reported (`preflight`, `dependencies`, `dataset`, `training`,
   * `uploading`); for a failed job, where it failed. Empty before the pod reported.
   */
  stage: string;
  /** The pod's exit code, once its final status arrived. */
  exitCode: number | null;
  /**
   * The end of the pod's log (at most 20 KB) when it failed, kept so that it outlives the pod;
   * empty otherwise.
   */
  logTail: string;
  /** The pod of this attempt. */
  podId: string | null;
  /** Optimizer steps done. */
  step: number | null;
  /** Steps in the run. */
  totalSteps: number | null;
  /** `step / total_steps`, 0 to 1 (1 once succeeded). */
  progress: number;
  /** The latest training loss. */
  loss: number | null;
  /**
   * The latest loss on the held-out split (`hyperparameters.eval_fraction`), or the one the run
   * ended with: the best, when early stopping kept the best checkpoint.
   */
  evalLoss: number | null;
  /** Seconds until training ends, from the pace so far; `null` before training. */
  etaSecs: number | null;
  /**
   * What the job has cost so far across its attempts, USD: each pod's price x its time, or RunPod's
   * billing for a pod that went away; RunPod's bill for the whole job once it was read
   * (`billed_usd`). It stops growing when the job ends.
   */
  costUsd: number;
  /** The job's budget, USD. */
  budgetUsd: number;
  /** The pod's price, USD per hour. */
  pricePerHour: number;
  /** The pod's latest sign of life, Unix seconds. */
  lastHeartbeat: number | null;
  /** The hard deadline, Unix seconds. */
  deadlineUnix: number;
  /** The estimate the job was planned with, USD: (low, high). */
  estimateUsd: [number, number] | null;
  /**
   * What RunPod billed for every pod of the job, USD, beside the estimate: read by the reconciler
   * some minutes after the job ended (RunPod bills every few); `null` before.
   */
  billedUsd: number | null;
  /** The RunPod account the job runs on (`""`: the builder's own key). */
  account: string;
}

/**
 * What a key may do with pods.
 *
 * - `'read_write'`: Read and write: it can run jobs (an `All` key, or `Restricted` with pods
 * read/write).
 * - `'read_only'`: Read only: it sees pods but cannot create them (a `Read Only` key).
 * - `'no_pods'`: Valid, but with no access to pods (a `Restricted` key without it).
 * - `'refused'`: RunPod refused the key (mistyped, disabled or deleted).
 */
export type KeyAccess = 'read_write' | 'read_only' | 'no_pods' | 'refused';

/** One GPU type the key's account sees, with its price. */
export interface GpuSeen {
  /** The GPU type id (`NVIDIA GeForce RTX 4090`). */
  gpuId: string;
  /** Its memory, GB. */
  memoryGb: number;
  /** USD per GPU per hour on the secure cloud, when offered there. */
  securePrice: number | null;
  /** USD per GPU per hour on the community cloud, when offered there. */
  communityPrice: number | null;
  /** Whether any is free to rent now. */
  available: boolean;
}

/** What `check_runpod_key` found. */
export interface KeyCheck {
  /** RunPod accepted the key. */
  valid: boolean;
  /** What it may do with pods. */
  access: KeyAccess;
  /** It can run trainpod's jobs (create and end pods). */
  canRunJobs: boolean;
  /** The GPU types its account sees, cheapest available first (empty for a refused key). */
  gpus: GpuSeen[];
  /** What is wrong and how to fix it, in plain words; empty when the key can run jobs. */
  problem: string;
}

/**
 * How the rows are packaged.
 *
 * - `'jsonl'`: One JSON object per line.
 * - `'json_array'`: One JSON array of objects.
 * - `'gzip_jsonl'`: JSON lines compressed with gzip.
 */
export type Container = 'jsonl' | 'json_array' | 'gzip_jsonl';

/** One invalid row. */
export interface RowError {
  /** 1-based line in the file (JSON lines), or 1-based element (JSON arrays). */
  line: number;
  /** Why the row is refused. */
  reason: string;
}

/** What inspection found. */
export interface DatasetReport {
  /** How the rows are packaged. */
  container: Container;
  /** The rows' format (that of the first valid row), if any row was valid. */
  format: DatasetFormat | null;
  /** Valid rows. */
  rows: number;
  /** Size of the file as stored (what the pod downloads). */
  bytes: number;
  /** SHA-256 of the file as stored, lowercase hex. */
  sha256: string;
  /** The longest row, in bytes of JSON. */
  longestRowBytes: number;
  /** The first errors, in file order. */
  errors: RowError[];
  /** How many rows were refused in all. */
  errorCount: number;
}

/** One file of the bundle, as the pod unpacks it, credentials replaced by `REDACTED`. */
export interface RenderedFile {
  /** Its name in the bundle directory. */
  name: string;
  /** Unix permission bits. */
  mode: number;
  /** Its text. */
  text: string;
}

/**
 * What `generate` hands the pod, for reading: its start command, the env variables it sets (names
 * only: the bundle carries the job's tokens), the encoded bundle's real size and sha256, and the
 * files inside it with their credentials replaced.
 */
export interface RenderedScript {
  /** The container start command (`args`). */
  startCommand: string;
  /** The env variables the bundle sets, by name. */
  env: string[];
  /** Size of the encoded bundle in bytes (the real one, credentials included). */
  bytes: number;
  /** sha256 of the encoded bundle (the real one). */
  sha256: string;
  /** The files, in the bundle's order. */
  files: RenderedFile[];
}

/** How the pod itself behaves. */
export interface PodRuntime {
  /** RunPod REST v2 base URL, for self-termination. Default: `"https://api.runpod.io/v2"`. */
  apiBase: string;
  /** Python interpreter in the image. Default: `"python3"`. */
  python: string;
  /** Whether a CUDA GPU must be visible (checked in preflight). Default: `true`. */
  expectGpu: boolean;
  /** Free disk needed under the workspace, in GB. Default: `20`. */
  minFreeDiskGb: number;
  /** Heartbeat interval in seconds. Default: `30`. */
  heartbeatS: number;
  /** Batching interval of the reporter in seconds. Default: `5`. */
  flushS: number;
  /** Minimum seconds between progress events. Default: `10`. */
  progressS: number;
  /** Seconds kept for the upload between the end of training and the deadline. Default: `600`. */
  uploadReserveS: number;
  /** Time allowed to pip. Default: `1800`. */
  pipTimeoutS: number;
  /**
   * Time allowed to deliver the final status before terminating anyway (at least; once training has
   * ended, what the upload left of its reserve is spent holding it too). Default: `6`.
   */
  finalBudgetS: number;
  /**
   * How long the pod waits for the app to answer its check-in before it runs anyway. Default:
   * `120`.
   */
  checkinBudgetS: number;
  /**
   * `name==version` lines installed against the image's torch; empty installs nothing. Default:
   * `["transformers==5.24.0","trl==1.16.0","peft==0.21.2","accelerate==1.15.0","datasets==5.2.0"]`.
   */
  requirements: string[];
  /**
   * Pods (nodes) training this job together: more than one is an Instant Cluster, each node reading
   * its rank and the primary's address from RunPod's cluster env. Deploy sets it from the plan
   * (`JobSpec::nodes`). Default: `1`.
   */
  nodes: number;
  /**
   * Training processes on each node, one per GPU. With `nodes * gpus_per_node > 1` the trainer runs
   * under `accelerate launch`. Deploy sets it from the plan (`JobSpec::gpu_count`). Default: `1`.
   */
  gpusPerNode: number;
  /**
   * The `uv` binary that installs the requirements (an absolute path in the image or on a volume).
   * `null`: `uv` on `PATH`, then `python -m uv`, then uv `UV_VERSION` fetched once with pip into
   * the cache; pip installs them when no uv can be had. Default: `null`.
   */
  uv: string | null;
  /**
   * The package index the requirements (and uv) come from instead of PyPI (`--index-url`), such as
   * a private mirror. No credentials in it: give those to the pod as `UV_INDEX_URL` /
   * `PIP_INDEX_URL` in its env instead. Default: `null`.
   */
  indexUrl: string | null;
  /**
   * A directory in the pod (an absolute path) or an http(s) URL of wheels searched beside the index
   * (`--find-links`). Default: `null`.
   */
  findLinks: string | null;
  /**
   * Where the pod keeps what outlives a job (uv, the installers' caches, the Hub cache the model
   * downloads into), as an absolute path. `null`: `cache` under the pod's home, on the pod's own
   * volume. Deploy puts it on the job's network volume when the job mounts one, so that the next
   * job there finds the model already downloaded. Default: `null`.
   */
  cacheDir: string | null;
}

/** An event the pod sent, as the pod protocol defines it (docs/pod-protocol.md). */
export interface PodEvent {
  /** The sender's own event counter. */
  n: number;
  /** `bootstrap`, `trainer`, `upload` or `command`. */
  source: string;
  /** `stage`, `heartbeat`, `log`, `progress`, `final`, ... */
  type: string;
  /** Unix seconds with a fraction. */
  ts: number;
  /**
   * The payload. A key twice at any depth is refused (serde_json would keep the last one, and what
   * the app folds would differ from what another reader of the same text sees).
   */
  data: Record<string, unknown>;
  /** The stage, on bootstrap events. */
  stage?: string;
}

/** The job in a webhook event, as the change that made the event left it. */
export interface WebhookJob {
  /** The job id. */
  jobId: string;
  /** The user the job belongs to. */
  user: string;
  /** The RunPod account it runs on (`""`: the builder's own key). */
  account: string;
  /** The attempt, from 1. */
  attempt: number;
  /** Where the job is. */
  state: JobState;
  /**
   * Why it ended, when it did not succeed: a stable code (the failed stage, `deadline`,
   * `cancelled`, `pod_vanished`, `stale_heartbeat`, ...); empty otherwise.
   */
  reason: string;
  /** What happened, in plain words; empty while the job runs as it should. */
  cause: string;
  /** The stage the pod last reported; empty before it reported one. */
  stage: string;
  /** The pod's exit code, once its final status arrived. */
  exitCode: number | null;
  /** The attempt's pod, once created. */
  podId: string | null;
  /** The GPU type the attempt's pod was placed on; empty before it has one. */
  gpuId: string;
  /**
   * What the job had cost across its attempts when this happened, USD (RunPod's billing for a pod
   * that went away, else price x time).
   */
  costUsd: number;
  /** The job's budget, USD. */
  budgetUsd: number;
  /**
   * Who ended the job, on a final event: `pod` (its final status, or its container restarting),
   * `request` (`cancel`) or `reconciler` (trainpod's checks: a deadline, the budget, silence, a pod
   * that never started or that RunPod no longer has); `null` before.
   */
  endedBy: string | null;
}

/** A webhook's body: Standard Webhooks' `{"type", "timestamp", "data"}`. */
export interface WebhookEvent {
  /**
   * What happened: `job.deployed`, `job.training_started`, `job.succeeded`, `job.failed`,
   * `job.cancelled`, `job.timed_out` or `job.over_budget` (a string, so that a receiver built for
   * this version reads the events of a later one).
   */
  type: string;
  /** When it happened (RFC 3339, UTC); each delivery's own time is in `webhook-timestamp`. */
  timestamp: string;
  /** The job as the change left it. */
  data: WebhookJob;
}

/**
 * How one try ended, for the report.
 *
 * - `'delivered'`: The endpoint answered 2xx.
 * - `'retrying'`: It failed and is tried again at `next_at`.
 * - `'failed'`: It failed and will not be tried again (its last try, a 410 Gone, or too old).
 */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed';

/** One try of one message. */
export interface WebhookDelivery {
  /** The message id (`webhook-id`), the same on every try. */
  msgId: string;
  /** Its event type. */
  eventType: string;
  /** The job the event is about. */
  jobId: string;
  /** Which try of the message this was, from 1. */
  tryNumber: number;
  /** How it ended. */
  outcome: DeliveryOutcome;
  /** The endpoint's HTTP status, when it answered. */
  status: number | null;
  /** Why it failed, when it did; empty otherwise. */
  error: string;
  /** When it is tried again (Unix seconds), when it is. */
  nextAt: number | null;
}

/** What one delivery pass did. */
export interface WebhookReport {
  /** Messages the endpoint took (2xx). */
  delivered: number;
  /** Messages that failed and will be tried again. */
  retrying: number;
  /** Messages given up on. */
  failed: number;
  /** Each try, in the order they ended. */
  deliveries: WebhookDelivery[];
}

/**
 * What `plan` takes: `user`, `model`, `dataset` and `budgetUsd`; everything else is optional,
 * and given hyperparameters are laid over the method's defaults. Unknown keys are refused.
 */
export type JobSpecInput = Pick<JobSpec, 'user' | 'model' | 'dataset' | 'budgetUsd'> &
  Partial<Omit<JobSpec, 'user' | 'model' | 'dataset' | 'budgetUsd' | 'hyperparameters'>> & {
    hyperparameters?: Partial<Hyperparameters> | null;
  };

/**
 * How the pod behaves (`podRuntime`): any of these laid over core's defaults; unknown keys are
 * refused. `podPython` and `expectGpu`, given as options of their own, are laid over them.
 */
export type PodRuntimeInput = Partial<PodRuntime>;

/** One thing `follow` saw (src/stream.rs tags it). */
export type FollowUpdate = { kind: 'status'; status: JobStatus } | { kind: 'event'; event: PodEvent };
