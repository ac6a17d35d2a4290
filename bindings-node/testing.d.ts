/** The account key the emulator accepts. */
export declare const ACCOUNT_KEY: string;

/** A running RunPod v2 emulator on a loopback port. */
export interface RunningEmulator {
  /** `http://127.0.0.1:PORT/v2` */
  readonly baseUrl: string;
  readonly accountKey: string;
  stop(): Promise<void>;
}

/** Start the emulator binary (`binary`, else `$TRAINPOD_EMULATOR`, else `PATH`). */
export declare function startEmulator(options?: { binary?: string }): Promise<RunningEmulator>;
