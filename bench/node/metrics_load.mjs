// The pods of bench/nextjs_metrics.sh: one concurrent sender per job, each POSTing its metric
// batches in order (batch 1, 2, ... each sent once the previous one was answered, as a pod's
// reporter walks its outbox), over keep-alive connections (Node's fetch). Prints one JSON line:
// requests, errors (any answer but 200), requests/s over the whole run, and latency percentiles.
//
//   node bench/node/metrics_load.mjs URL_TEMPLATE TOKENS_JSON [BATCHES] [EVENTS]
//
// URL_TEMPLATE: the route, with {job} where the job id goes. TOKENS_JSON: a file holding
// [{"job": "...", "token": "..."}], one pod per entry. BATCHES: batches per pod (default 20).
// EVENTS: events per batch (default 4: three trainer logs and a progress event).
import { readFileSync } from 'node:fs';

const [template, tokensFile, batchesArg, eventsArg] = process.argv.slice(2);
if (!template || !tokensFile) {
  console.error('usage: node metrics_load.mjs URL_TEMPLATE TOKENS_JSON [BATCHES] [EVENTS]');
  process.exit(2);
}
const pods = JSON.parse(readFileSync(tokensFile, 'utf8'));
const batches = Number(batchesArg ?? 20);
const eventsPerBatch = Number(eventsArg ?? 4);
const maxSteps = 10_000;

/** Batch `seq` of `job`, as the pod's reporter writes it (docs/pod-protocol.md, "Telemetry"). */
function body(job, seq) {
  const events = [];
  const ts = Date.now() / 1000;
  for (let i = 0; i < eventsPerBatch; i++) {
    const n = (seq - 1) * eventsPerBatch + i + 1;
    const step = n * 2;
    const epoch = Math.round((step / maxSteps) * 3 * 1e4) / 1e4;
    events.push(
      i === eventsPerBatch - 1
        ? { n, source: 'trainer', type: 'progress', ts, data: { step, max_steps: maxSteps, epoch, eta_s: 3600 - n } }
        : {
            n,
            source: 'trainer',
            type: 'log',
            ts,
            data: {
              step,
              loss: 2.5 / (1 + n / 100),
              grad_norm: 0.8 + (n % 7) / 10,
              learning_rate: 2e-4 * (1 - step / maxSteps),
              epoch,
            },
          },
    );
  }
  return JSON.stringify({ job, attempt: 1, batch: seq, events });
}

const latencies = [];
const statuses = {};
let errors = 0;
let firstError = null;

async function pod({ job, token }) {
  const url = template.replace('{job}', encodeURIComponent(job));
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (let seq = 1; seq <= batches; seq++) {
    const payload = body(job, seq);
    const start = performance.now();
    let status = 0;
    let text = '';
    try {
      const res = await fetch(url, { method: 'POST', headers, body: payload });
      status = res.status;
      text = await res.text();
    } catch (err) {
      text = String(err?.cause ?? err);
    }
    latencies.push(performance.now() - start);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status !== 200) {
      errors++;
      firstError ??= `${status} ${text.slice(0, 300)}`;
    }
  }
}

const start = performance.now();
await Promise.all(pods.map(pod));
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
console.log(
  JSON.stringify({
    pods: pods.length,
    batches_per_pod: batches,
    events_per_batch: eventsPerBatch,
    requests: latencies.length,
    errors,
    statuses,
    seconds: round(seconds, 3),
    rps: round(latencies.length / seconds, 1),
    p50_ms: round(pct(50)),
    p90_ms: round(pct(90)),
    p99_ms: round(pct(99)),
    max_ms: round(latencies[latencies.length - 1]),
    ...(firstError ? { first_error: firstError } : {}),
  }),
);
