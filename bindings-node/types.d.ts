// The plain objects `Trainpod` takes and returns: core's serde types with camelCase keys
// (src/json.rs converts the keys, nothing else). Enum values keep core's spelling.

/** Where a job is. */
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
  | 'timed_out';

/** How the model is adapted. */
export type Method = 'lora' | 'qlora' | 'full';

/** Numeric precision on the GPU. */
export type Precision = 'auto' | 'bf16' | 'fp16';

/** RunPod's cloud tier. */
export type Cloud = 'SECURE' | 'COMMUNITY';

/** A dataset's row format, as inspected. */
export type DatasetFormat = 'messages' | 'prompt_completion' | 'text' | 'alpaca';

/**
 * Where the dataset comes from: a file `<datasetsDir>/<id>` the app serves through a signed URL,
 * or a public https URL the pod checks against `bytes` and `sha256`.
 */
export type DatasetRef = { kind: 'app'; id: string } | { kind: 'url'; url: string; bytes: number; sha256: string };

/** Training hyperparameters: each one's meaning, default and range are in `docs/hyperparameters.md`. */
export interface Hyperparameters {
  /** Passes over the dataset (ignored when `maxSteps` is set). */
  epochs: number;
  /** Stop after this many optimizer steps; 0 means epochs decide. */
  maxSteps: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  learningRate: number;
  /** Tokens per example; longer ones are truncated. */
  maxLength: number;
  loggingSteps: number;
  /** 0 saves only the final model. */
  saveSteps: number;
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  /** The modules LoRA adapts: `'all-linear'` (the default) or names such as `['q_proj', 'v_proj']`. */
  loraTargetModules: 'all-linear' | string[];
  gradientCheckpointing: boolean;
  precision: Precision;
  seed: number;
}

/** One training job, complete (as a plan carries it). */
export interface JobSpec {
  /** `[A-Za-z0-9_-]`, at most 48 characters; generated when null. Deploying it twice creates one pod. */
  jobId: string | null;
  /** The user the job belongs to (tokens are scoped to it). */
  user: string;
  /** A Hugging Face model id (`org/name`) or an absolute path in the pod. */
  model: string;
  /** Model size in billions of parameters; read from the model's name when null. */
  paramsB: number | null;
  dataset: DatasetRef;
  method: Method;
  /** The method's defaults when null. */
  hyperparameters: Hyperparameters | null;
  /** GPU types in order of preference; empty picks the cheapest that fits. */
  gpus: string[];
  gpuCount: number;
  cloud: Cloud;
  /** Data centers to allow, in order; empty lets RunPod choose. */
  dataCenters: string[];
  /** The most the job may cost, USD: it sets the pod's hard deadline. */
  budgetUsd: number;
  /** A shorter deadline than the budget buys, in hours. */
  maxHours: number | null;
  /** trainpod's default PyTorch image when null. */
  image: string | null;
  /** The caller vouches that `image` carries Python 3.11+ and torch 2.6+. */
  imageVouched: boolean;
}

/**
 * What `plan` takes: `user`, `model`, `dataset` and `budgetUsd`; everything else is optional,
 * and given hyperparameters are laid over the method's defaults. Unknown keys are refused.
 */
export type JobSpecInput = Pick<JobSpec, 'user' | 'model' | 'dataset' | 'budgetUsd'> &
  Partial<Omit<JobSpec, 'user' | 'model' | 'dataset' | 'budgetUsd' | 'hyperparameters'>> & {
    hyperparameters?: Partial<Hyperparameters> | null;
  };

/** Estimated tokens of a dataset. */
export interface DatasetTokens {
  perEpoch: number;
  longestExample: number;
}

/** What the dataset holds, as inspected. */
export interface DatasetSummary {
  /** Null when not inspected (a public URL). */
  format: DatasetFormat | null;
  /** 0 when not inspected. */
  rows: number;
  bytes: number;
  sha256: string;
  tokens: DatasetTokens;
}

/** One invalid row of a dataset: its 1-based line (element, in a JSON array) and why. */
export interface RowError {
  line: number;
  reason: string;
}

/** What `inspectDataset` found in a file. */
export interface DatasetReport {
  container: 'jsonl' | 'json_array' | 'gzip_jsonl';
  /** The rows' format (that of the first valid row); null when no row is valid. */
  format: DatasetFormat | null;
  /** Valid rows. */
  rows: number;
  /** Size of the file as stored. */
  bytes: number;
  sha256: string;
  longestRowBytes: number;
  /** The first invalid rows, in file order. */
  errors: RowError[];
  /** How many rows were refused in all. */
  errorCount: number;
}

/** One file of a pod's bundle, as the pod unpacks it, credentials replaced. */
export interface RenderedFile {
  name: string;
  /** Unix permission bits. */
  mode: number;
  text: string;
}

/** The pod script `deploy` would generate, credentials replaced by `<redacted>`. */
export interface RenderedScript {
  /** The container start command. */
  startCommand: string;
  /** The env variables the bundle sets, by name. */
  env: string[];
  /** Size of the real encoded bundle. */
  bytes: number;
  /** sha256 of the real encoded bundle. */
  sha256: string;
  files: RenderedFile[];
}

/** GPU memory needed, with the rule that gave it. */
export interface MemoryEstimate {
  neededGb: number;
  bytesPerParam: number;
  rule: string;
}

/** Where a training-time estimate came from. */
export type ThroughputSource =
  | { kind: 'heuristic'; peakTflops: number; mfu: number }
  | { kind: 'measured'; samples: number };

/** One phase of a cost estimate. */
export interface CostLine {
  /** `provisioning`, `dependencies`, `model_download`, `dataset_transfer`, `training`, `upload`. */
  phase: string;
  secondsLow: number;
  secondsHigh: number;
  usdLow: number;
  usdHigh: number;
}

/** What a job is estimated to cost. */
export interface CostEstimate {
  lines: CostLine[];
  secondsLow: number;
  secondsHigh: number;
  usdLow: number;
  usdHigh: number;
  pricePerHour: number;
  trainingFlops: number;
  throughput: ThroughputSource;
}

/** One GPU placement. */
export interface GpuChoice {
  gpuId: string;
  count: number;
  /** Memory per GPU, GB. */
  memoryGb: number;
  /** The pod's price, USD per hour (all GPUs). */
  pricePerHour: number;
  availability: string | null;
  estimate: CostEstimate;
}

/** A checked job, ready to `deploy`: show it, then deploy it or drop it. */
export interface Plan {
  jobId: string;
  spec: JobSpec;
  hyperparameters: Hyperparameters;
  paramsB: number;
  dataset: DatasetSummary;
  memory: MemoryEstimate;
  gpu: GpuChoice;
  /** Tried in order when the chosen GPU has no capacity. */
  fallbacks: GpuChoice[];
  estimate: CostEstimate;
  /** The pod's hard deadline after creation, seconds. */
  deadlineSecs: number;
  image: string;
  warnings: string[];
  /** Unix seconds. */
  createdAt: number;
}

/** A job's status. */
export interface JobStatus {
  jobId: string;
  /** The user the job belongs to (the spec's `user`): check it before showing, cancelling or retrying the job. */
  user: string;
  /** From 1. */
  attempt: number;
  state: JobState;
  /** Why it ended, when it did not succeed: a stable code (the failed stage, `deadline`, `pod_vanished`, ...). */
  reason: string;
  /** What happened, in plain words, with what to do; empty while the job runs as it should. */
  cause: string;
  /** The stage the pod last reported (`preflight`, `dependencies`, `dataset`, `training`, `uploading`); for a failed job, where it failed. */
  stage: string;
  /** The pod's exit code, once its final status arrived. */
  exitCode: number | null;
  /** The end of the pod's log (at most 20 KB) when it failed, kept so that it outlives the pod. */
  logTail: string;
  podId: string | null;
  step: number | null;
  totalSteps: number | null;
  /** 0 to 1 (1 once succeeded). */
  progress: number;
  loss: number | null;
  /** Seconds until training ends, from the pace so far. */
  etaSecs: number | null;
  /** What the job has cost so far across its attempts, USD; it stops growing when the job ends. */
  costUsd: number;
  budgetUsd: number;
  pricePerHour: number;
  /** Unix seconds. */
  lastHeartbeat: number | null;
  /** Unix seconds. */
  deadlineUnix: number;
  /** [low, high] USD, from the plan. */
  estimateUsd: [number, number] | null;
}

/** An event the pod sent, as the pod protocol defines it (docs/pod-protocol.md); keys as sent. */
export interface PodEvent {
  /** The sender's own event counter. */
  n: number;
  /** `bootstrap`, `trainer`, `upload` or `command`. */
  source: string;
  /** `stage`, `heartbeat`, `log`, `progress`, `result`, `final`, ... */
  type: string;
  /** The stage, on bootstrap events. */
  stage?: string;
  /** Unix seconds with a fraction. */
  ts: number;
  /** The payload. */
  data: Record<string, unknown>;
}

/** One thing `follow` saw. */
export type FollowUpdate = { kind: 'status'; status: JobStatus } | { kind: 'event'; event: PodEvent };

/**
 * How the pod behaves (`podRuntime`): any of these laid over core's defaults; unknown keys are
 * refused. `podPython` and `expectGpu`, given as options of their own, are laid over them.
 */
export interface PodRuntimeInput {
  /** The Python interpreter in the image (default `python3`). */
  python?: string;
  /** Whether preflight requires a CUDA GPU (default true). */
  expectGpu?: boolean;
  /** Free disk needed under the workspace, GB (default 20). */
  minFreeDiskGb?: number;
  /** Heartbeat interval, seconds (default 30). */
  heartbeatS?: number;
  /** Batching interval of the reporter, seconds (default 5). */
  flushS?: number;
  /** Minimum seconds between progress events (default 10). */
  progressS?: number;
  /** Seconds kept for the upload between the end of training and the deadline (default 600). */
  uploadReserveS?: number;
  /** Time allowed to pip, seconds (default 1800). */
  pipTimeoutS?: number;
  /** Time allowed to deliver the final status before terminating anyway, seconds (default 6). */
  finalBudgetS?: number;
  /** How long the pod waits for the app to answer its check-in before it runs anyway, seconds (default 120). */
  checkinBudgetS?: number;
  /** `name==version` lines installed against the image's torch; empty installs nothing. */
  requirements?: string[];
}
