// Generated from core's types by
// `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.

import { TrainpodError } from './error-base';

export { TrainpodError };

/**
 * An argument, a dataset or a URL is invalid: the message names it and what is accepted. Codes:
 * `INVALID_INPUT`, `DATASET_INVALID`, `URL_UNREACHABLE_FROM_POD`.
 */
export declare class InvalidInputError extends TrainpodError {}

/**
 * A token was refused: answer 401 or 403; the code is for logs. Codes: `TOKEN_MALFORMED`,
 * `TOKEN_UNSUPPORTED_VERSION`, `TOKEN_UNKNOWN_KEY`, `TOKEN_KEY_RETIRED`, `TOKEN_SIGNATURE_INVALID`,
 * `TOKEN_WRONG_PURPOSE`, `TOKEN_WRONG_AUDIENCE`, `TOKEN_WRONG_ISSUER`, `TOKEN_SCOPE_MISMATCH`,
 * `TOKEN_EXPIRED`, `TOKEN_NOT_YET_VALID`, `TOKEN_LIFETIME_EXCEEDED`, `TOKEN_ALREADY_USED`,
 * `TOKEN_MISSING`.
 */
export declare class TokenError extends TrainpodError {}

/**
 * A metric batch conflicts with one already received under its sequence number. Codes:
 * `SEQUENCE_CONFLICT`.
 */
export declare class SequenceConflictError extends TrainpodError {}

/** The store (SQLite or Postgres) failed. Codes: `STORE_UNAVAILABLE`, `STORE_SCHEMA`. */
export declare class StoreError extends TrainpodError {}

/**
 * RunPod (or an object store) refused or failed a request. Codes: `AUTH_INVALID`,
 * `CREDENTIALS_UNAVAILABLE`, `INSUFFICIENT_BALANCE`, `FORBIDDEN`, `NOT_FOUND`, `INVALID_STATE`,
 * `CAPACITY_UNAVAILABLE`, `RATE_LIMITED`, `SERVER_ERROR`, `TRANSPORT`, `TIMEOUT`.
 */
export declare class ApiError extends TrainpodError {}

/**
 * A staged dataset cannot be served: it is not there, or its file is not safe to open. Codes:
 * `DATASET_NOT_FOUND`, `DATASET_PATH_UNSAFE`.
 */
export declare class DatasetError extends TrainpodError {}

/**
 * A webhook failed verification: answer it with 400 or 401; the code is for logs. Codes:
 * `WEBHOOK_MALFORMED`, `WEBHOOK_TIMESTAMP_OUT_OF_RANGE`, `WEBHOOK_SIGNATURE_INVALID`.
 */
export declare class WebhookError extends TrainpodError {}

/** A bug in trainpod. Codes: `INTERNAL`. */
export declare class InternalError extends TrainpodError {}

/** The class each trainpod error code is thrown as: its group's. */
export declare const CLASS_BY_CODE: ReadonlyMap<string, typeof TrainpodError>;

/** The class a trainpod error `code` is thrown as; `TrainpodError` for any other code. */
export declare function errorClass(code: string): typeof TrainpodError;
