// The root of every trainpod error class; errors.d.ts (generated) declares one class per group.

/** Any trainpod failure. `code` is stable across versions and languages. */
export declare class TrainpodError extends Error {
  constructor(
    message: string,
    fields?: {
      code?: string;
      status?: number | null;
      requestId?: string | null;
      retryAfter?: number | null;
      retryable?: boolean;
      cause?: unknown;
    },
  );
  readonly code: string;
  /** HTTP status of the upstream response, where there was one. */
  readonly status: number | null;
  /** Upstream request id, where there was one. */
  readonly requestId: string | null;
  /** Seconds the upstream asked to wait, where it said. */
  readonly retryAfter: number | null;
  readonly retryable: boolean;
}
