// The public entry point. It re-exports the generated native binding and turns its failures into
// `TrainpodError`s with a stable `code`, `status`, `requestId`, `retryAfter`, `retryable` and a
// `cause` chain. Every rule lives in the Rust core; this file only converts errors.

const { Readable } = require('node:stream');
const native = require('./binding.js');

const errors = require('./errors.js');
// The classes are generated from core's error groups (errors.js); each code is thrown as its
// group's class.
const { TrainpodError, InvalidInputError, errorClass } = errors;
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
// file. napi exports classes under PascalCase names and functions under camelCase ones.
for (const [name, value] of Object.entries(native)) {
  if (typeof value !== 'function') module.exports[name] = value;
  else module.exports[name] = /^[A-Z]/.test(name) ? wrapClass(value) : guard(value);
}

/**
 * The grant's body as a web `ReadableStream`: one `read()` per pull, so nothing is read ahead of
 * the consumer; a cancelled stream closes the file.
 */
function webBody(grant) {
  return new ReadableStream(
    {
      async pull(controller) {
        const chunk = await grant.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        grant.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The grant's body as a Node `Readable`; a destroyed stream closes the file. */
function nodeBody(grant) {
  async function* chunks() {
    try {
      for (let chunk = await grant.read(); chunk !== null; chunk = await grant.read()) yield chunk;
    } finally {
      grant.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

// `stream()` and `webStream()` on every grant: body helpers over the native `read()`.
Object.defineProperties(module.exports.DatasetGrant.prototype, {
  stream: {
    value() {
      return nodeBody(this);
    },
    writable: true,
    configurable: true,
  },
  webStream: {
    value() {
      return webBody(this);
    },
    writable: true,
    configurable: true,
  },
});

/** Replace `proto[name]` with `make(guarded)`, keeping the native function under NATIVE. */
function decorate(proto, name, make) {
  const guarded = proto[name];
  const decorated = make(guarded);
  Object.defineProperty(decorated, 'name', { value: name });
  Object.defineProperty(decorated, NATIVE, { value: guarded[NATIVE] ?? guarded });
  Object.defineProperty(proto, name, { value: decorated, writable: true, configurable: true });
}

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

// `verifyWebhook` takes a fetch `Headers` (a Next.js route's `request.headers`) as well as an
// object of header names and values.
const verifyWebhookNative = module.exports.verifyWebhook;
module.exports.verifyWebhook = function verifyWebhook(secrets, headers, body, options) {
  const plain = typeof Headers === 'function' && headers instanceof Headers ? Object.fromEntries(headers) : headers;
  return verifyWebhookNative(secrets, plain, body, options);
};

module.exports.ERROR_CODES = ERROR_CODES;
// The conversion itself, so tests can check it for every code without a native failure for each.
Object.defineProperty(module.exports, '__convertForTests', { value: convert, enumerable: false });
