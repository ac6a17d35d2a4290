// The root of every trainpod error class. errors.js, generated from core's error kinds, adds
// one class per group of codes (`TokenError`, `ApiError`, ...) and the code → class table.

/** Any trainpod failure. `code` is stable across versions and languages. */
class TrainpodError extends Error {
  constructor(message, { code, status = null, requestId = null, retryAfter = null, retryable = false, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code ?? 'INTERNAL';
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.retryable = retryable;
  }
}

module.exports = { TrainpodError };
