// The binding's own cost per call: the same SDK calls made from Node through `Trainpod` and in
// Rust by bench/src/bin/sdk_calls.rs (run here, in the same run), token verification and metrics
// ingestion (batches of 1 and of 50 events, each the best of 60 short rounds) on the RunPod
// emulator with a memory store and a fixed clock.
// Run: `bash bench/overhead.sh`, or `node --expose-gc bench/node/overhead.mjs PATH/TO/sdk_calls` after
// building the emulator, the release addon and the Rust binary.
//
// With an addon built with the `bench` feature (bench/overhead.sh builds it so), core's own time is
// also measured in this process (`_coreVerifyNs`, `_coreIngestNs`: the same calls in a Rust loop on
// the same SDK, rounds alternated with the binding's), which the `*_here` keys give: the other
// process's figure moves by microseconds from one process to the next.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { Trainpod, generateSecret } = require('../../bindings-node/index.js');
const { startEmulator } = require('../../bindings-node/testing.js');
// Present only in an addon built with the `bench` feature.
const {
  _coreVerifyNs: coreVerify,
  _coreIngestNs: coreIngest,
  _coreBatches: coreBatches,
} = require('../../bindings-node/binding.js');
const here = typeof coreVerify === 'function';

// The constants of sdk_calls.rs.
const T0 = 1_900_000_000;
const JOBS = 100;
const BATCHES = 2;
const ROUNDS = 60;
const VERIFY_CALLS = 2_000;
// Events per batch, one measurement each (see sdk_calls.rs).
const EVENTS = [1, 50];
const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

const binary = process.argv[2];
if (!binary) throw new Error('usage: node bench/node/overhead.mjs PATH/TO/sdk_calls');
const keys = `k1:active:${generateSecret()}`;

// Keys in the order serde_json writes them, so that both sides parse the same bytes. Each batch
// moves the job's step on, as a trainer's does, so that every batch writes the job's row.
function body(job, round, batch, size) {
  const n = round * BATCHES + batch + 1;
  const events = Array.from({ length: size }, (_, i) => ({
    data: { loss: 1.25, max_steps: 1000, step: n * size + i },
    n: i,
    source: 'trainer',
    ts: T0 + 1,
    type: 'log',
  }));
  return Buffer.from(JSON.stringify({ attempt: 1, batch: n, events, job }));
}

// The best round, as sdk_calls.rs takes it: other work on the machine only ever adds time.
const best = (v) => Math.min(...v);

const emu = await startEmulator();
try {
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-overhead-'));
  writeFileSync(join(dir, 'chat'), `${CHAT}\n`.repeat(50));
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: keys,
    store: 'memory:',
    datasetsDir: dir,
    now: T0,
  });
  const tokens = tp.tokens();
  const { token } = tokens.issue({ purpose: 'dataset.read', user: 'user-1', job: 'job-1', dataset: 'ds-42' });
  const expect = { purpose: 'dataset.read', job: 'job-1', dataset: 'ds-42' };
  const verify = [];
  const verifyHere = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < VERIFY_CALLS; i++) tokens.verify(token, expect);
    verify.push(Number(process.hrtime.bigint() - start) / VERIFY_CALLS);
    if (here) verifyHere.push(coreVerify(tokens, token, 'job-1', 'ds-42', VERIFY_CALLS));
  }

  const jobs = [];
  for (let j = 0; j < JOBS; j++) {
    const jobId = `bench-${j}`;
    const spec = {
      jobId,
      user: 'user-1',
      model: 'Qwen/Qwen2.5-0.5B',
      dataset: { kind: 'app', id: 'chat' },
      budgetUsd: 2,
    };
    await tp.deploy(await tp.plan(spec));
    const issued = tokens.issue({ purpose: 'metrics.write', user: 'user-1', job: jobId, epoch: 1, ttlSecs: 3600 });
    jobs.push([jobId, `Bearer ${issued.token}`]);
  }
  // Rounds are numbered on across both sizes, so that batch numbers never repeat; with the
  // in-process baseline, every other round is core's (the clock moves on between rounds,
  // refilling the per-job rate limit).
  const ingestNs = [];
  const ingestHereNs = [];
  const perSize = here ? 2 * ROUNDS : ROUNDS;
  for (const [size, events] of EVENTS.entries()) {
    const ingest = [];
    const ingestHere = [];
    for (let r = 0; r < perSize; r++) {
      const round = size * perSize + r;
      tp.setNow(T0 + 10 * (round + 1));
      const calls = [];
      for (let b = 0; b < BATCHES; b++)
        for (const [id, auth] of jobs) calls.push([id, auth, body(id, round, b, events)]);
      const coreCalls = here && r % 2 ? coreBatches(...[0, 1, 2].map((k) => calls.map((c) => c[k]))) : null;
      // Collect the last round's garbage before timing (Rust has none to collect). A major
      // collection, not a plain `gc()`: that one also drops the optimized code of the wrapper
      // and its readers, so every round ran them unoptimized until recompiled (`--trace-deopt`:
      // "weak objects"), which a server never sees.
      globalThis.gc?.({ type: 'major' });
      if (coreCalls) {
        ingestHere.push(coreIngest(tp, coreCalls));
        continue;
      }
      const start = process.hrtime.bigint();
      for (const [id, auth, bytes] of calls) {
        const out = await tp.ingestMetrics(id, auth, bytes);
        if (out.replay) throw new Error('a batch was taken for a replay');
      }
      ingest.push(Number(process.hrtime.bigint() - start) / calls.length);
    }
    ingestNs.push(best(ingest));
    if (here) ingestHereNs.push(best(ingestHere));
  }

  const core = JSON.parse(execFileSync(binary, [keys], { encoding: 'utf8' }));
  const nodeVerify = best(verify);
  const [nodeIngest1, nodeIngest] = ingestNs;
  const us = (ns) => +(ns / 1000).toFixed(2);
  console.log(
    JSON.stringify({
      benchmark: 'node binding overhead per call',
      verify_core_us: us(core.verify_ns),
      verify_node_us: us(nodeVerify),
      verify_overhead_us: us(nodeVerify - core.verify_ns),
      ingest1_core_us: us(core.ingest1_ns),
      ingest1_node_us: us(nodeIngest1),
      ingest1_overhead_us: us(nodeIngest1 - core.ingest1_ns),
      ingest_core_us: us(core.ingest_ns),
      ingest_node_us: us(nodeIngest),
      ingest_overhead_us: us(nodeIngest - core.ingest_ns),
      target: '<= 2 us over core',
      ...(here
        ? {
            verify_core_here_us: us(best(verifyHere)),
            verify_overhead_here_us: us(nodeVerify - best(verifyHere)),
            ingest1_core_here_us: us(ingestHereNs[0]),
            ingest1_overhead_here_us: us(nodeIngest1 - ingestHereNs[0]),
            ingest_core_here_us: us(ingestHereNs[1]),
            ingest_overhead_here_us: us(nodeIngest - ingestHereNs[1]),
          }
        : {}),
    }),
  );
} finally {
  await emu.stop();
}
