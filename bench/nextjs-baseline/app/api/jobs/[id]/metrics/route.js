// POST /api/jobs/:id/metrics: the baseline of bench/nextjs_metrics.sh, what a plain Next.js route
// does with a pod's metric batch without trainpod. The bearer token is an HS256 JWT checked with
// jose (signature, algorithm, audience, issuer, expiry, then the purpose, job and attempt); the
// batch is then written as trainpod writes it, to tables of the same shape (trainpod's own
// migrations make them): the batch keyed by (job, attempt, number), taken once; its events as
// sent; the job's step, loss and heartbeat. One transaction, with pg.
import { createHash } from 'node:crypto';
import { jwtVerify } from 'jose';
import pg from 'pg';

const secret = Buffer.from(process.env.BASELINE_JWT_SECRET ?? '', 'base64url');
const verifyOptions = { algorithms: ['HS256'], audience: process.env.BASELINE_APP_URL, issuer: 'trainpod' };

// On globalThis, so that a module evaluated twice shares one pool (the same size as trainpod's).
const slot = globalThis;
slot.baselinePool ??= new pg.Pool({ connectionString: process.env.BASELINE_DATABASE_URL, max: 16 });
const pool = slot.baselinePool;

const INSERT_BATCH = `insert into trainpod_metric_batches (job_id, epoch, seq, body_sha256, received_at)
  values ($1, $2, $3, $4, $5) on conflict (job_id, epoch, seq) do nothing`;
const INSERT_EVENTS = `insert into trainpod_job_events (job_id, attempt, batch, received_at, events)
  values ($1, $2, $3, $4, $5) on conflict (job_id, attempt, batch) do nothing`;
const UPDATE_JOB = `update trainpod_jobs set step = coalesce($3, step), max_steps = coalesce($4, max_steps),
  loss = coalesce($5, loss), last_heartbeat = $6, updated_at = $6
  where job_id = $1 and attempt = $2 and state = 'training'`;

function answer(status, body) {
  console.info(`baseline: POST metrics ${status}`); // the example's route logs one line per answer too
  return Response.json(body, { status });
}

export async function POST(req, ctx) {
  const { id } = await ctx.params;
  const auth = req.headers.get('authorization') ?? '';
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(auth.startsWith('Bearer ') ? auth.slice(7) : '', secret, verifyOptions));
  } catch {
    return answer(401, { code: 'TOKEN_INVALID' });
  }
  if (claims.pur !== 'metrics.write' || claims.job !== id) return answer(403, { code: 'TOKEN_SCOPE_MISMATCH' });

  const body = Buffer.from(await req.arrayBuffer());
  let batch;
  try {
    batch = JSON.parse(body.toString('utf8'));
  } catch {
    return answer(400, { code: 'INVALID_INPUT' });
  }
  if (
    batch?.job !== id ||
    batch.attempt !== claims.ep ||
    !Number.isSafeInteger(batch.batch) ||
    !Array.isArray(batch.events)
  ) {
    return answer(400, { code: 'INVALID_INPUT' });
  }
  // What the job's row keeps: the last step, max_steps and loss the batch reports.
  let step = null;
  let maxSteps = null;
  let loss = null;
  for (const e of batch.events) {
    const d = e?.data ?? {};
    if (typeof d.step === 'number') step = d.step;
    if (typeof d.max_steps === 'number') maxSteps = d.max_steps;
    if (typeof d.loss === 'number') loss = d.loss;
  }
  const now = Math.floor(Date.now() / 1000);
  const sha256 = createHash('sha256').update(body).digest('hex');

  const client = await pool.connect();
  try {
    await client.query('begin');
    const taken = await client.query(INSERT_BATCH, [id, batch.attempt, batch.batch, sha256, now]);
    if (taken.rowCount === 1) {
      await client.query(INSERT_EVENTS, [id, batch.attempt, batch.batch, now, JSON.stringify(batch.events)]);
      const moved = await client.query(UPDATE_JOB, [id, batch.attempt, step, maxSteps, loss, now]);
      if (moved.rowCount !== 1) {
        await client.query('rollback');
        return answer(409, { code: 'INVALID_STATE' });
      }
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return answer(200, { ok: true });
}
