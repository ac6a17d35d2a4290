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
  stop(): Promise<void>;
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
}

/** Start the emulator binary (`binary`, else `$TRAINPOD_EMULATOR`, else `PATH`); `realTime` runs its clock by itself. */
export declare function startEmulator(options?: { binary?: string; realTime?: boolean }): Promise<RunningEmulator>;
