// Generated from core's types by
// `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.

const { TrainpodError } = require('./error-base.js');

/**
 * An argument, a dataset or a URL is invalid: the message names it and what is accepted. Codes:
 * `INVALID_INPUT`, `DATASET_INVALID`, `URL_UNREACHABLE_FROM_POD`.
 */
class InvalidInputError extends TrainpodError {}

/**
 * A token was refused: answer 401 or 403; the code is for logs. Codes: `TOKEN_MALFORMED`,
 * `TOKEN_UNSUPPORTED_VERSION`, `TOKEN_UNKNOWN_KEY`, `TOKEN_KEY_RETIRED`, `TOKEN_SIGNATURE_INVALID`,
 * `TOKEN_WRONG_PURPOSE`, `TOKEN_WRONG_AUDIENCE`, `TOKEN_WRONG_ISSUER`, `TOKEN_SCOPE_MISMATCH`,
 * `TOKEN_EXPIRED`, `TOKEN_NOT_YET_VALID`, `TOKEN_LIFETIME_EXCEEDED`, `TOKEN_ALREADY_USED`,
 * `TOKEN_MISSING`.
 */
class TokenError extends TrainpodError {}

/**
 * A metric batch conflicts with one already received under its sequence number. Codes:
 * `SEQUENCE_CONFLICT`.
 */
class SequenceConflictError extends TrainpodError {}

/** The store (SQLite or Postgres) failed. Codes: `STORE_UNAVAILABLE`, `STORE_SCHEMA`. */
class StoreError extends TrainpodError {}

/**
 * RunPod (or an object store) refused or failed a request. Codes: `AUTH_INVALID`,
 * `CREDENTIALS_UNAVAILABLE`, `INSUFFICIENT_BALANCE`, `FORBIDDEN`, `NOT_FOUND`, `INVALID_STATE`,
 * `CAPACITY_UNAVAILABLE`, `RATE_LIMITED`, `SERVER_ERROR`, `TRANSPORT`, `TIMEOUT`.
 */
class ApiError extends TrainpodError {}

/**
 * A staged dataset cannot be served: it is not there, or its file is not safe to open. Codes:
 * `DATASET_NOT_FOUND`, `DATASET_PATH_UNSAFE`.
 */
class DatasetError extends TrainpodError {}

/**
 * A webhook failed verification: answer it with 400 or 401; the code is for logs. Codes:
 * `WEBHOOK_MALFORMED`, `WEBHOOK_TIMESTAMP_OUT_OF_RANGE`, `WEBHOOK_SIGNATURE_INVALID`.
 */
class WebhookError extends TrainpodError {}

/** A bug in trainpod. Codes: `INTERNAL`. */
class InternalError extends TrainpodError {}

/** The class each trainpod error code is thrown as: its group's. */
const CLASS_BY_CODE = new Map([
  ['INVALID_INPUT', InvalidInputError],
  ['TOKEN_MALFORMED', TokenError],
  ['TOKEN_UNSUPPORTED_VERSION', TokenError],
  ['TOKEN_UNKNOWN_KEY', TokenError],
  ['TOKEN_KEY_RETIRED', TokenError],
  ['TOKEN_SIGNATURE_INVALID', TokenError],
  ['TOKEN_WRONG_PURPOSE', TokenError],
  ['TOKEN_WRONG_AUDIENCE', TokenError],
  ['TOKEN_WRONG_ISSUER', TokenError],
  ['TOKEN_SCOPE_MISMATCH', TokenError],
  ['TOKEN_EXPIRED', TokenError],
  ['TOKEN_NOT_YET_VALID', TokenError],
  ['TOKEN_LIFETIME_EXCEEDED', TokenError],
  ['TOKEN_ALREADY_USED', TokenError],
  ['TOKEN_MISSING', TokenError],
  ['SEQUENCE_CONFLICT', SequenceConflictError],
  ['STORE_UNAVAILABLE', StoreError],
  ['STORE_SCHEMA', StoreError],
  ['AUTH_INVALID', ApiError],
  ['CREDENTIALS_UNAVAILABLE', ApiError],
  ['INSUFFICIENT_BALANCE', ApiError],
  ['FORBIDDEN', ApiError],
  ['NOT_FOUND', ApiError],
  ['INVALID_STATE', ApiError],
  ['CAPACITY_UNAVAILABLE', ApiError],
  ['RATE_LIMITED', ApiError],
  ['SERVER_ERROR', ApiError],
  ['TRANSPORT', ApiError],
  ['TIMEOUT', ApiError],
  ['DATASET_INVALID', InvalidInputError],
  ['URL_UNREACHABLE_FROM_POD', InvalidInputError],
  ['DATASET_NOT_FOUND', DatasetError],
  ['DATASET_PATH_UNSAFE', DatasetError],
  ['WEBHOOK_MALFORMED', WebhookError],
  ['WEBHOOK_TIMESTAMP_OUT_OF_RANGE', WebhookError],
  ['WEBHOOK_SIGNATURE_INVALID', WebhookError],
  ['INTERNAL', InternalError],
]);

/** The class a trainpod error `code` is thrown as; `TrainpodError` for any other code. */
function errorClass(code) {
  return CLASS_BY_CODE.get(code) ?? TrainpodError;
}

module.exports = {
  TrainpodError,
  InvalidInputError,
  TokenError,
  SequenceConflictError,
  StoreError,
  ApiError,
  DatasetError,
  WebhookError,
  InternalError,
  CLASS_BY_CODE,
  errorClass,
};
