// The public entry point. It re-exports the generated native binding and turns its failures into
// `TrainpodError`s with a stable `code`, `status`, `requestId`, `retryAfter`, `retryable` and a
// `cause` chain. Every rule lives in the Rust core; this file only converts errors.

const native = require('./binding.js');

/** Must match `PREFIX` in src/errors.rs. */
const PREFIX = 'TRAINPOD_ERROR ';
const ERROR_CODES = Object.freeze(native.errorCodes());

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
/** A token was refused (`TOKEN_*`): answer 401 or 403. */
class TokenError extends TrainpodError {}
/** An argument is invalid (`INVALID_INPUT`, `DATASET_INVALID`, `URL_UNREACHABLE_FROM_POD`). */
class InvalidInputError extends TrainpodError {}
/** The store failed (`STORE_*`). */
class StoreError extends TrainpodError {}
/** The RunPod API refused or failed a request. */
class ApiError extends TrainpodError {}

const INPUT_CODES = new Set(['INVALID_INPUT', 'DATASET_INVALID', 'URL_UNREACHABLE_FROM_POD']);
const API_CODES = new Set([
  'AUTH_INVALID',
  'INSUFFICIENT_BALANCE',
  'FORBIDDEN',
  'NOT_FOUND',
  'INVALID_STATE',
  'CAPACITY_UNAVAILABLE',
  'RATE_LIMITED',
  'SERVER_ERROR',
  'TRANSPORT',
  'TIMEOUT',
]);

function errorClass(code) {
  if (code.startsWith('TOKEN_')) return TokenError;
  if (code.startsWith('STORE_')) return StoreError;
  if (INPUT_CODES.has(code)) return InvalidInputError;
  if (API_CODES.has(code)) return ApiError;
  return TrainpodError;
}

function chain(causes) {
  let cause;
  for (const message of [...causes].reverse()) {
    cause = new Error(message, cause === undefined ? undefined : { cause });
  }
  return cause;
}

/** The `TrainpodError` for a native failure; other errors pass through unchanged. */
function convert(err) {
  if (!(err instanceof Error)) return err;
  if (err.message.startsWith(PREFIX)) {
    const p = JSON.parse(err.message.slice(PREFIX.length));
    const Class = errorClass(p.code);
    return new Class(p.message, { ...p, cause: chain(p.causes) });
  }
  // napi's own argument conversion failures (a number where a string belongs, null for an
  // options object, …): only native calls reach here, so a TypeError is a bad argument.
  const napiCode = typeof err.code === 'string' && (err.code === 'InvalidArg' || err.code.endsWith('Expected'));
  if (napiCode || err instanceof TypeError) {
    return new InvalidInputError(err.message, { code: 'INVALID_INPUT', cause: err });
  }
  return err;
}

// Native methods cannot be redefined, so native objects are handed out behind proxies whose
// methods convert errors; arguments are unwrapped back to the native objects on the way in.
const natives = new WeakMap();
const classes = [];

function unwrap(args) {
  // Allocates only when a wrapped object is passed (rare): this runs on every call.
  let out = args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a !== null && typeof a === 'object' && natives.has(a)) {
      if (out === args) out = [...args];
      out[i] = natives.get(a);
    }
  }
  return out;
}

function wrapResult(value) {
  return value !== null && typeof value === 'object' && classes.some((C) => value instanceof C)
    ? wrapInstance(value)
    : value;
}

function call(fn, self, args) {
  let result;
  try {
    result = Reflect.apply(fn, self, unwrap(args));
  } catch (err) {
    throw convert(err);
  }
  if (result instanceof Promise) {
    return result.then(wrapResult, (err) => {
      throw convert(err);
    });
  }
  return wrapResult(result);
}

// One wrapper per native method, made once: calls pass `this` (the proxy) back to the native.
const methodWrappers = new WeakMap();

function methodWrapper(fn) {
  let wrapped = methodWrappers.get(fn);
  if (wrapped === undefined) {
    wrapped = function (...args) {
      return call(fn, natives.get(this) ?? this, args);
    };
    methodWrappers.set(fn, wrapped);
  }
  return wrapped;
}

const instanceHandler = {
  get(obj, key) {
    const value = Reflect.get(obj, key, obj);
    return typeof value === 'function' && key !== 'constructor' ? methodWrapper(value) : value;
  },
};

function wrapInstance(obj) {
  const proxy = new Proxy(obj, instanceHandler);
  natives.set(proxy, obj);
  return proxy;
}

function wrapFunction(fn) {
  const wrapped = (...args) => call(fn, undefined, args);
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}

function wrapClass(Class) {
  classes.push(Class);
  function Wrapped(...args) {
    if (!new.target) throw new TypeError(`Class constructor ${Class.name} cannot be invoked without 'new'`);
    try {
      return wrapInstance(Reflect.construct(Class, unwrap(args)));
    } catch (err) {
      throw convert(err);
    }
  }
  Object.defineProperty(Wrapped, 'name', { value: Class.name });
  // Sharing the prototype keeps `instanceof` true for every native instance.
  Wrapped.prototype = Class.prototype;
  for (const key of Object.getOwnPropertyNames(Class)) {
    const value = Object.getOwnPropertyDescriptor(Class, key).value;
    if (typeof value === 'function') Wrapped[key] = (...args) => call(value, Class, args);
  }
  return Wrapped;
}

// Exported classes are capitalised; everything else callable is a function.
for (const [name, value] of Object.entries(native)) {
  if (typeof value !== 'function') {
    module.exports[name] = value;
  } else {
    module.exports[name] = /^[A-Z]/.test(name) ? wrapClass(value) : wrapFunction(value);
  }
}

Object.assign(module.exports, {
  ERROR_CODES,
  TrainpodError,
  TokenError,
  InvalidInputError,
  StoreError,
  ApiError,
});
// The conversion itself, so tests can check it for every code.
Object.defineProperty(module.exports, '__convertForTests', { value: convert, enumerable: false });
