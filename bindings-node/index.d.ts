export * from './binding';
export * from './types';

/** Every error code, in the order of the core's error kinds. */
export declare const ERROR_CODES: readonly string[];

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
/** A token was refused (`TOKEN_*`): answer 401 or 403. */
export declare class TokenError extends TrainpodError {}
/** An argument is invalid (`INVALID_INPUT`, `DATASET_INVALID`, `URL_UNREACHABLE_FROM_POD`). */
export declare class InvalidInputError extends TrainpodError {}
/** The store failed (`STORE_*`). */
export declare class StoreError extends TrainpodError {}
/** The RunPod API refused or failed a request. */
export declare class ApiError extends TrainpodError {}
/** A staged dataset cannot be served (`DATASET_NOT_FOUND` 404, `DATASET_PATH_UNSAFE` 403). */
export declare class DatasetError extends TrainpodError {}

declare module './binding' {
  /** `for await (const update of tp.follow(jobId))`: ends after the job's final status. */
  interface Follow {
    [Symbol.asyncIterator](): AsyncIterator<import('./types').FollowUpdate>;
  }
  /** `for await (const line of await tp.logs(jobId))`: ends when RunPod closes the stream. */
  interface LogStream {
    [Symbol.asyncIterator](): AsyncIterator<LogLine>;
  }
  interface Trainpod {
    /**
     * The artifact upload route (`PUT <artifacts route>/files/<path>`): receive the whole body, a
     * `Uint8Array` or an async iterable of them (a web `ReadableStream`, a Node request), chunk by
     * chunk, then check its size and sha256 against the manifest.
     */
    putArtifact(
      jobId: string,
      authorization: string | null | undefined,
      path: string,
      body: Uint8Array | AsyncIterable<Uint8Array>,
    ): Promise<ArtifactFile>;
  }

  /** Body helpers added by `index.js` over `read()`: each sends the body once, then closes the file. */
  interface DatasetGrant {
    /** The body as a Node stream (`offset` to `offset + length - 1`). */
    stream(): import('node:stream').Readable;
    /** The body as a web `ReadableStream`, for `new Response(...)` in a Next.js route. */
    webStream(): ReadableStream<Uint8Array>;
  }
}
