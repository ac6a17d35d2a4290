export * from './binding';
export * from './errors';
export * from './types';

/** Every error code, in the order of the core's error kinds. */
export declare const ERROR_CODES: readonly string[];

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
