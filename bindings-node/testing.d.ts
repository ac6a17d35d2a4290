/** The account key the emulator accepts. */
export declare const ACCOUNT_KEY: string;

/** A running RunPod v2 emulator on a loopback port. */
export interface RunningEmulator {
  /** `http://127.0.0.1:PORT/v2` */
  readonly baseUrl: string;
  readonly accountKey: string;
  /** Inject faults into the next requests; lists add to what is set, `reset` clears first. */
  faults(faults: EmulatorFaults): Promise<void>;
  /** Move the clock forward; resolves to the emulator's time (seconds since the epoch). */
  advance(secs: number): Promise<number>;
  /** Append a line to a pod's log. */
  pushLog(podId: string, line: string, source?: 'container' | 'system'): Promise<void>;
  /** Every RunPod request received so far. */
  requests(): Promise<Array<{ method: string; uri: string; status: number }>>;
  /**
   * Make a pod vanish now, as RunPod removes one by itself: listed no more, 404 on every v2
   * call, billing stopped but still readable, its processes SIGKILLed with the local provider.
   */
  vanish(podId: string, cause?: VanishCause): Promise<EmulatorPod>;
  /** What the emulator knows of a pod, gone ones included. */
  pod(podId: string): Promise<EmulatorPod>;
  /**
   * Add `key` to `account`, creating the account (`args: ['--account', 'ID:KEY[:PERMISSION]']`
   * does the same at start); giving a key the account holds again changes its permission.
   */
  addAccount(
    account: string,
    key: string,
    permission?: KeyPermission,
  ): Promise<{ account: string; key: string; permission: KeyPermission }>;
  /** Revoke an account's or a pod's key: the v2 API answers it 401 from then on. */
  revokeKey(key: string): Promise<{ revoked: string; account: string | null }>;
  /** Every call of a pod's `runpodctl` so far (local provider: `args: ['--run-pods']`). */
  runpodctlCalls(): Promise<RunpodctlCall[]>;
  stop(): Promise<void>;
}

/**
 * Why RunPod removed a pod: deleted in the console, lost with its host, or the account's
 * balance reached $0 (account-wide: pods without a network volume go, the others stop, and
 * creates answer 402 until the faults are reset).
 */
export type VanishCause = 'console' | 'host' | 'balance';

/** The named fault profiles. */
export type EmulatorProfile =
  | 'pod-vanishes'
  | 'host-lost'
  | 'zero-balance'
  | 'old-cuda-host'
  | 'pull-backoff'
  | 'stuck-host'
  | 'capacity-machine-wording'
  | 'rate-limited'
  | 'log-stream-drops'
  | 'pod-key-refused'
  | 'cluster-node-stuck';

/** What an emulator account's key may do: RunPod's All, Read Only, or Restricted with None. */
export type KeyPermission = 'all' | 'read_only' | 'none';

/** What the emulator knows of a pod. */
export interface EmulatorPod {
  id: string;
  /** The account whose key created it. */
  account: string;
  status: string;
  /** The CUDA version of the pod's host. */
  cudaVersion: string;
  /** Why the pod vanished, or null. */
  vanished: VanishCause | null;
  /** Whether its container runs (v2 shows `runtime` exactly then). */
  containerRunning: boolean;
  /** What keeps the container from starting, or null. */
  waitingFor: 'host' | 'pull' | 'cuda' | null;
  restarts: number;
  /** The container's main process, with the local provider. */
  pid: number | null;
  workspace: string | null;
  logFile: string | null;
}

/** One call of a pod's `runpodctl`. */
export interface RunpodctlCall {
  args: string[];
  /** The pod whose key made the call; null for the account key. */
  caller: string | null;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Faults for {@link RunningEmulator.faults}. */
export interface EmulatorFaults {
  /** GPU type ids refused for capacity in every data center. */
  noCapacity?: string[];
  /** [GPU type id, data center id] pairs refused for capacity. */
  noCapacityAt?: Array<[string, string]>;
  /** Creates that create the pod and then answer 500. */
  failAfterCreate?: number;
  /** 429 answers with these Retry-After seconds. */
  rateLimits?: number[];
  /** problem+json answers with these statuses (401, 402, 403, 500, ...). */
  statuses?: number[];
  /** Delay before every answer. */
  latencyMs?: number;
  /** Clear every fault first. */
  reset?: boolean;
  /** Apply a named profile (after `reset`, before the other keys). */
  profile?: EmulatorProfile;
  /** Pods created while set vanish `afterSecs` clock seconds after their create (`cause`: 'console' by default). */
  vanish?: { afterSecs: number; cause?: VanishCause } | null;
  /** Pods without a CUDA constraint land on the CUDA 12.4 host, where an image built for 12.8 never starts. */
  oldCudaHosts?: boolean;
  /** Pods created while set wait on Docker Hub's pull rate limit for `secs` (absent or null: forever). */
  pullBackoff?: { secs?: number | null } | null;
  /** Pods created while set read RUNNING with no container for this many seconds (a stuck host). */
  noContainerSecs?: number | null;
  /** How capacity refusals answer: 'v2' (400, the default) or 'machine' (500 "This machine does not have the resources…"). */
  capacityStyle?: 'v2' | 'machine';
  /** The next creates answer 500 "Something went wrong…" and create nothing. */
  somethingWentWrong?: number;
  /** The minute quota of the RateLimit headers; 429 with Retry-After beyond it. */
  quotaPerMinute?: number | null;
  /** Every log stream is cut, without a clean end, after this many events. */
  dropLogStreamsAfter?: number | null;
  /** v2 answers 401 to pod-scoped keys (runpodctl still accepts them). */
  podKeyRefused?: boolean;
}

/**
 * Start the emulator binary (`binary`, else `$TRAINPOD_EMULATOR`, else `PATH`); `realTime` runs
 * its clock by itself; `args` go to the binary (`['--run-pods']`: the local provider).
 */
export declare function startEmulator(options?: {
  binary?: string;
  realTime?: boolean;
  args?: string[];
}): Promise<RunningEmulator>;
