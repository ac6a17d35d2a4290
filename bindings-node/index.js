// The public entry point. It re-exports the generated native binding and turns its failures into
// `TrainpodError`s with a stable `code`, `status`, `requestId`, `retryAfter`, `retryable` and a
// `cause` chain. Every rule lives in the Rust core; this file only converts errors.

const fs = require('node:fs');
const { Readable } = require('node:stream');
const native = require('./binding.js');

const errors = require('./errors.js');
// The classes are generated from core's error groups (errors.js); each code is thrown as its
// group's class.
const { TrainpodError, TokenError, InvalidInputError, StoreError, ApiError, DatasetError, errorClass } = errors;
Object.assign(module.exports, errors);

const ERROR_CODES = Object.freeze(native.errorCodes());
const TRAINPOD_CODES = new Set(ERROR_CODES);

/** The core's causes, outermost first, as a chain of `Error`s linked by `cause`. */
function chain(causes) {
  let cause;
  for (let i = causes.length - 1; i >= 0; i--) {
    cause = new Error(String(causes[i]), cause === undefined ? undefined : { cause });
  }
  return cause;
}

/**
 * napi's own failures when an argument has the wrong type: its status names (`StringExpected`,
 * `InvalidArg`, …) in `code`, or a bare `TypeError` (`null` where an options object belongs).
 */
function isArgumentError(err) {
  if (typeof err.code === 'string') return err.code === 'InvalidArg' || err.code.endsWith('Expected');
  return err.code === undefined && err instanceof TypeError;
}

/**
 * The `TrainpodError` for a native failure: src/errors.rs puts the code in `code` and the other
 * fields as JSON in the message. A wrong argument type becomes `INVALID_INPUT`; anything else (a
 * Rust panic, napi failing while the process exits) passes through with napi's own `code`.
 */
function convert(err) {
  if (!(err instanceof Error) || err instanceof TrainpodError) return err;
  if (TRAINPOD_CODES.has(err.code)) {
    let fields;
    try {
      fields = JSON.parse(err.message);
    } catch {
      fields = { message: err.message };
    }
    const Class = errorClass(err.code);
    return new Class(fields.message ?? err.message, {
      code: err.code,
      status: fields.status ?? null,
      requestId: fields.requestId ?? null,
      retryAfter: fields.retryAfter ?? null,
      retryable: fields.retryable === true,
      cause: chain(Array.isArray(fields.causes) ? fields.causes : []),
    });
  }
  if (isArgumentError(err)) return new InvalidInputError(err.message, { code: 'INVALID_INPUT', cause: err });
  return err;
}

function rethrow(err) {
  throw convert(err);
}

// The native function behind a wrapper. Module registries that reset the require cache (jest)
// load this file again over the same native prototypes: the latest load then re-wraps the
// originals, so that its own `TrainpodError` is the one thrown, instead of wrapping wrappers.
const NATIVE = Symbol.for('trainpod.native');

/** `fn` with its failures converted: thrown errors and rejected promises alike. */
function guard(wrappedOrNative, receiver) {
  const fn = wrappedOrNative[NATIVE] ?? wrappedOrNative;
  const wrapped = function (...args) {
    let result;
    try {
      result = Reflect.apply(fn, receiver ?? this, args);
    } catch (err) {
      throw convert(err);
    }
    return result instanceof Promise ? result.catch(rethrow) : result;
  };
  Object.defineProperties(wrapped, {
    name: { value: fn.name },
    length: { value: fn.length },
    [NATIVE]: { value: fn },
  });
  return wrapped;
}

/**
 * A constructor that converts failures, sharing the native prototype: instances made by native
 * factories (`Store.open`) and by `new` are the same kind of object, and `instanceof` holds.
 */
function wrapClass(Class) {
  const proto = Class.prototype;
  // Methods and accessors are patched on the native prototype itself: instances are the native
  // objects, so they pass straight back into native calls.
  for (const key of Reflect.ownKeys(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (key === 'constructor' || !d.configurable) continue;
    if (typeof d.value === 'function') d.value = guard(d.value);
    if (d.get) d.get = guard(d.get);
    if (d.set) d.set = guard(d.set);
    Object.defineProperty(proto, key, d);
  }
  function Wrapped(...args) {
    if (new.target === undefined)
      throw new TypeError(`Class constructor ${Class.name} cannot be invoked without 'new'`);
    try {
      return Reflect.construct(Class, args, new.target);
    } catch (err) {
      throw convert(err);
    }
  }
  Object.defineProperties(Wrapped, {
    name: { value: Class.name },
    length: { value: Class.length },
    prototype: { value: proto },
  });
  for (const key of Reflect.ownKeys(Class)) {
    const value = Object.getOwnPropertyDescriptor(Class, key).value;
    if (typeof value === 'function' && key !== 'prototype') {
      Object.defineProperty(Wrapped, key, { value: guard(value, Class), writable: true, configurable: true });
    }
  }
  Object.defineProperty(proto, 'constructor', { value: Wrapped, writable: true, configurable: true });
  return Wrapped;
}

// Every export is walked, so a new native function or class is wrapped without touching this
// file. napi exports classes under PascalCase names and functions under camelCase ones; those
// under `_` names are this file's own (the hot calls below), not the package's.
for (const [name, value] of Object.entries(native)) {
  if (name.startsWith('_')) continue;
  if (typeof value !== 'function') module.exports[name] = value;
  else module.exports[name] = /^[A-Z]/.test(name) ? wrapClass(value) : guard(value);
}

/** Bytes read per chunk of a web body: large chunks keep the per-chunk cost of web streams small. */
const WEB_CHUNK = 4 << 20;

/**
 * The bytes `offset` to `offset + length - 1` of the open file `fd` as a web `ReadableStream`,
 * read one chunk per pull (nothing is read ahead of the consumer); `fd` is closed at the end, on
 * a read error and on cancel. Reading straight into the stream is about twice as fast as wrapping
 * a Node stream with `Readable.toWeb` (bench/nextjs.sh), which matters in a Next.js route.
 */
function webBody(fd, offset, length) {
  if (fd === null || fd === undefined) return new ReadableStream({ start: (controller) => controller.close() });
  let position = offset;
  const end = offset + length;
  let open = true;
  const release = () => {
    if (open) {
      open = false;
      fs.close(fd, () => {});
    }
  };
  return new ReadableStream(
    {
      pull(controller) {
        const size = Math.min(WEB_CHUNK, end - position);
        if (size <= 0) {
          release();
          controller.close();
          return;
        }
        return new Promise((resolve, reject) => {
          fs.read(fd, Buffer.allocUnsafe(size), 0, size, position, (err, n, buffer) => {
            if (err || n === 0) {
              release();
              reject(err ?? new Error(`the file ended ${end - position} bytes early`));
              return;
            }
            position += n;
            controller.enqueue(n === size ? buffer : buffer.subarray(0, n));
            resolve();
          });
        });
      },
      cancel: release,
    },
    { highWaterMark: 0 },
  );
}

/**
 * A dataset grant with its body helpers. The native grant carries the descriptor of the file core
 * opened beneath the staging root; these stream exactly that file, once, and close it.
 */
function withBody(grant) {
  if (grant.fd === undefined) grant.fd = null;
  let fd = grant.fd;
  const take = () => {
    const taken = fd;
    fd = null;
    return taken;
  };
  Object.defineProperties(grant, {
    stream: {
      value() {
        const taken = take();
        if (taken === null || taken === undefined) return Readable.from([]);
        const end = grant.offset + grant.length - 1;
        return fs.createReadStream('', { fd: taken, start: grant.offset, end, highWaterMark: 1 << 20 });
      },
    },
    webStream: {
      value() {
        return webBody(take(), grant.offset, grant.length);
      },
    },
    close: {
      value() {
        const taken = take();
        if (taken !== null && taken !== undefined) fs.closeSync(taken);
      },
    },
  });
  return grant;
}

/** Replace `proto[name]` with `decorate(guarded)`, keeping the native function under NATIVE. */
function decorate(proto, name, make) {
  const guarded = proto[name];
  const decorated = make(guarded);
  Object.defineProperty(decorated, 'name', { value: name });
  Object.defineProperty(decorated, NATIVE, { value: guarded[NATIVE] ?? guarded });
  Object.defineProperty(proto, name, { value: decorated, writable: true, configurable: true });
}

// `authorizeDatasetDownload` returns the grant with its body helpers: at once from `AppStaging`,
// through a promise from `Trainpod` (which looks the token's job up in the store first). The
// decorator keeps the native function under NATIVE, so a reload of this file wraps the original
// again, not this.
for (const Class of [module.exports.AppStaging, module.exports.Trainpod]) {
  decorate(
    Class.prototype,
    'authorizeDatasetDownload',
    (guarded) =>
      function (...args) {
        const granted = Reflect.apply(guarded, this, args);
        return granted instanceof Promise ? granted.then(withBody) : withBody(granted);
      },
  );
}

// The hot route calls take a faster way through the native module (src/slots.rs, src/flat.rs):
// free functions given the object's slot, the expectation's fields as plain arguments, and the
// result written flat, read back here. napi checking the receiver, reading an options object and
// building a result object property by property cost several times the verification itself
// (bench/overhead.sh). Arguments, results and errors are those of the native methods they stand
// for, which src/tokens.rs and src/sdk.rs keep, with their declared types.

/**
 * The numbers of a flat result: the native module's one array for this environment, filled by
 * each hot call and read before the next. It stays private to this module: code holding it could
 * transfer its memory away.
 */
const NUMS = native._numbers();
const SLOT = Symbol('trainpod.slot');

/** Reads a flat result (src/flat.rs) in the order it was written. */
class Flat {
  constructor(text, nums) {
    this.s = text;
    this.n = nums;
    this.i = 0;
    this.at = 0;
  }
  num() {
    return this.n[this.i++];
  }
  /** `undefined` when absent. */
  optNum() {
    const v = this.n[this.i++];
    return Number.isNaN(v) ? undefined : v;
  }
  flag() {
    return this.n[this.i++] === 1;
  }
  text() {
    const end = this.at + this.n[this.i++];
    const v = this.s.slice(this.at, end);
    this.at = end;
    return v;
  }
  /** `undefined` when absent. */
  optText() {
    if (this.n[this.i] >= 0) return this.text();
    this.i++;
    return undefined;
  }
}

/** The `Claims` object of `write_claims` (src/tokens.rs); absent options stay absent. */
function claimsOf(f) {
  const claims = {
    v: f.num(),
    iss: f.text(),
    aud: f.text(),
    pur: f.text(),
    sub: f.text(),
    job: f.text(),
    iat: f.num(),
    nbf: f.num(),
    exp: f.num(),
    jti: f.text(),
    once: f.flag(),
  };
  const ds = f.optText();
  const res = f.optText();
  const ep = f.optNum();
  if (ds !== undefined) claims.ds = ds;
  if (res !== undefined) claims.res = res;
  if (ep !== undefined) claims.ep = ep;
  return claims;
}

/** The object's slot for the hot calls, asked of the native module once (each time if frozen). */
function slotOf(object) {
  let slot = object[SLOT];
  if (slot === undefined) {
    slot = object._slot;
    if (Object.isExtensible(object)) Object.defineProperty(object, SLOT, { value: slot });
  }
  return slot;
}

function verifyVia(proto, name, flat) {
  decorate(
    proto,
    name,
    () =>
      function (token, expectOptions) {
        try {
          const { purpose, job, dataset, user } = expectOptions;
          return claimsOf(new Flat(flat(slotOf(this), token, purpose, job, dataset, user), NUMS));
        } catch (err) {
          throw convert(err);
        }
      },
  );
}
verifyVia(module.exports.Tokens.prototype, 'verify', native._verifyFlat);
verifyVia(module.exports.Tokens.prototype, 'verifyAuthorization', native._verifyAuthorizationFlat);

/** The `IngestOutcome` of `write_outcome` (src/metrics.rs), the declared keys in their order. */
function outcomeOf(f) {
  const status = f.num();
  const body = f.text();
  const replay = f.flag();
  const terminatePod = f.flag();
  const job = {
    id: f.text(),
    user: f.text(),
    attempt: f.num(),
    state: f.text(),
    reason: f.text(),
    createdAt: f.num(),
    updatedAt: f.num(),
    deadlineUnix: f.num(),
    budgetUsd: f.num(),
    pricePerHour: f.num(),
  };
  // Its options: a key only when the job has the value, as in the object napi builds. One
  // statement each: a loop over their names stores by computed key, at twice the cost.
  const podId = f.optText();
  if (podId !== undefined) job.podId = podId;
  const startedAt = f.optNum();
  if (startedAt !== undefined) job.startedAt = startedAt;
  const lastHeartbeat = f.optNum();
  if (lastHeartbeat !== undefined) job.lastHeartbeat = lastHeartbeat;
  const step = f.optNum();
  if (step !== undefined) job.step = step;
  const maxSteps = f.optNum();
  if (maxSteps !== undefined) job.maxSteps = maxSteps;
  const loss = f.optNum();
  if (loss !== undefined) job.loss = loss;
  return { status, body, replay, terminatePod, job };
}

/** The outcome of a `[text, numbers]` record, the answer of an ingest that waited on its store. */
const recordOutcome = ([text, nums]) => outcomeOf(new Flat(text, nums));

decorate(
  module.exports.Trainpod.prototype,
  'ingestMetrics',
  () =>
    function (jobId, authorization, body) {
      let answer;
      try {
        answer = native._ingestFlat(slotOf(this), jobId, authorization, body);
      } catch (err) {
        throw convert(err);
      }
      // The text itself when the store did not wait (see `ingest_flat` in src/metrics.rs).
      return typeof answer === 'string'
        ? Promise.resolve(outcomeOf(new Flat(answer, NUMS)))
        : answer.then(recordOutcome, rethrow);
    },
);

/** A job spec with each NaN or infinity as its text: they have no JSON form, so the native
 * conversion would refuse them without naming the field; core then refuses the field by name. */
function finite(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(finite);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, finite(v)]));
  }
  return value;
}

decorate(
  module.exports.Trainpod.prototype,
  'plan',
  (guarded) =>
    function (spec) {
      return Reflect.apply(guarded, this, [finite(spec)]);
    },
);

/** An async iterator over a native `next()` that resolves `null` at the end. */
function iterate(source) {
  return {
    async next() {
      const value = await source.next();
      if (value === null) {
        source.close();
        return { done: true, value: undefined };
      }
      return { done: false, value };
    },
    async return(value) {
      source.close();
      return { done: true, value };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

// `for await (const update of tp.follow(jobId))`, and the same over `await tp.logs(jobId)`.
for (const Class of [module.exports.Follow, module.exports.LogStream]) {
  Object.defineProperty(Class.prototype, Symbol.asyncIterator, {
    value() {
      return iterate(this);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Receive a whole artifact file: `body` is a `Uint8Array` (a `Buffer`) or an async iterable of
 * them (a Node request, a web `ReadableStream`). Each chunk is written before the next is read.
 */
async function putArtifact(jobId, authorization, path, body) {
  const upload = await this.beginArtifact(jobId, authorization, path);
  try {
    if (body instanceof Uint8Array) await upload.write(body);
    else for await (const chunk of body) await upload.write(chunk);
  } catch (err) {
    upload.abort();
    throw err;
  }
  return upload.finish();
}
Object.defineProperty(module.exports.Trainpod.prototype, 'putArtifact', {
  value: putArtifact,
  writable: true,
  configurable: true,
});

Object.assign(module.exports, {
  ERROR_CODES,
  TrainpodError,
  TokenError,
  InvalidInputError,
  StoreError,
  ApiError,
  DatasetError,
});
// The conversion itself, so tests can check it for every code without a native failure for each.
Object.defineProperty(module.exports, '__convertForTests', { value: convert, enumerable: false });
