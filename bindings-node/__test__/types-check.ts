// Compiled by `npm run typecheck` (never run): the declarations describe real usage.
import {
  AppStaging,
  type ArtifactFile,
  type Claims,
  type DatasetGrant,
  type DatasetRef,
  type DatasetReport,
  ERROR_CODES,
  generateSecret,
  httpStatus,
  type IngestOutcome,
  InvalidInputError,
  type IssuedToken,
  type JobSpecInput,
  type JobState,
  type JobStatus,
  type KeyCheck,
  type Plan,
  type ReconcileAction,
  type ReconcileError,
  type RenderedScript,
  Store,
  TokenError,
  Tokens,
  Trainpod,
  TrainpodError,
  verifyWebhook,
  WebhookError,
  type WebhookEvent,
  type WebhookReport,
} from '../index.js';

async function route(authorization: string | null, store: Store): Promise<number> {
  const tokens = new Tokens({ keys: process.env.TRAINPOD_SIGNING_KEYS ?? '', audience: 'https://app.example.com' });
  try {
    const claims: Claims = tokens.verifyAuthorization(authorization, { purpose: 'dataset.read', job: 'job-1' });
    const redeemed: Claims = await tokens.verifyAndRedeem('t', { purpose: 'dataset.read' }, store);
    return claims.exp + redeemed.exp + ERROR_CODES.length;
  } catch (err) {
    if (err instanceof TokenError) return err.code === 'TOKEN_EXPIRED' ? 401 : 403;
    if (err instanceof InvalidInputError) return 400;
    if (err instanceof TrainpodError) return err.status ?? (err.retryable ? 503 : 500);
    throw err;
  }
}

async function issue(): Promise<string> {
  const store: Store = await Store.open('memory:');
  const tokens = new Tokens({ keys: `k1:active:${generateSecret()}`, audience: 'https://a.example', now: 0 });
  tokens.setNow(60);
  const issued: IssuedToken = tokens.issue({ purpose: 'metrics.write', user: 'u', job: 'j', epoch: 1, ttlSecs: 60 });
  const ep: number | undefined = issued.claims.ep;
  return `${store.backend} ${tokens.activeKey} ${issued.token} ${ep}`;
}

export { issue, route };

// A Next.js route handler serving a staged dataset: `GET /datasets/[id]`.
const staging = new AppStaging('/srv/datasets', new Tokens({ keys: '', audience: 'https://a.example' }));

export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await ctx.params;
  let grant: DatasetGrant;
  try {
    grant = await staging.authorizeDatasetDownload({
      authorization: req.headers.get('authorization'),
      queryToken: new URL(req.url).searchParams.get('token'),
      datasetId: id,
      range: req.headers.get('range'),
      ifRange: req.headers.get('if-range'),
    });
  } catch (err) {
    const code = err instanceof TrainpodError ? err.code : 'INTERNAL';
    return Response.json({ error: code }, { status: httpStatus(code) });
  }
  if (req.method === 'HEAD') grant.close();
  const body = req.method === 'HEAD' ? null : grant.webStream();
  return new Response(body, { status: grant.status, headers: grant.headers });
}

// Many users, each on their own RunPod account: a resolver gives each account's key.
async function perUserAccounts(secrets: Map<string, string>): Promise<KeyCheck> {
  const tp = await Trainpod.create({
    credentials: async (account: string) => secrets.get(account) ?? null,
    reconcile: { billAfterSecs: 900 },
  });
  await Trainpod.create({ credentials: (account: string) => secrets.get(account) ?? null });
  const plan: Plan = await tp.plan({
    user: 'u1',
    account: 'u1',
    model: 'm/n',
    dataset: { kind: 'app', id: 'd' },
    budgetUsd: 1,
  });
  console.log(plan.spec.account);
  const check: KeyCheck = await tp.checkRunpodKey('rpa_x');
  if (!check.canRunJobs) console.log(check.access, check.problem, check.gpus[0]?.gpuId);
  return check;
}

// The SDK: plan, deploy, follow, and the pod-facing routes of a Next.js app.
async function deployJob(): Promise<[Plan, JobStatus]> {
  const tp: Trainpod = await Trainpod.create({
    appUrl: 'https://app.example.com',
    signingKeys: process.env.TRAINPOD_SIGNING_KEYS,
    store: 'sqlite://trainpod.db',
    datasetsDir: '/srv/datasets',
    routes: { metrics: '/api/jobs/{job}/metrics' },
    podEnv: { HF_HOME: '/workspace/hf' },
    hubUrl: 'https://huggingface.co',
    podRuntime: { minFreeDiskGb: 50, heartbeatS: 15, requirements: ['trl==1.16.0'] },
  });
  const input: JobSpecInput = {
    user: 'user-1',
    model: 'Qwen/Qwen2.5-0.5B',
    dataset: { kind: 'app', id: 'ds-1' },
    budgetUsd: 5,
    hyperparameters: { epochs: 2, loraTargetModules: ['q_proj', 'v_proj'] },
  };
  const report: DatasetReport = await tp.inspectDataset('/srv/datasets/ds-1', { maxErrors: 5 });
  const converted: DatasetReport = await tp.convertAlpaca('/srv/alpaca.jsonl', '/srv/datasets/ds-2');
  const bad: number = report.errorCount + report.errors.length + report.longestRowBytes;
  const fromBucket: JobSpecInput = { ...input, dataset: { kind: 'bucket', key: 'd.jsonl', bytes: 9, sha256: 'ab' } };
  const plan: Plan = await tp.plan(input);
  const ended: JobState[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'over_budget'];
  const dataset: DatasetRef = plan.spec.dataset;
  if (dataset.kind === 'volume') console.log(dataset.key, fromBucket, ended);
  const script: RenderedScript = await tp.renderScript(plan);
  const config: string | undefined = script.files.find((f) => f.name === 'config.json')?.text;
  const targets: 'all-linear' | string[] = plan.hyperparameters.loraTargetModules;
  console.log(bad, config, script.bytes, converted.format, targets);
  const usd: number = plan.estimate.usdHigh + plan.gpu.pricePerHour;
  const job: JobStatus = await tp.deploy(plan);
  for await (const update of tp.follow(job.jobId)) {
    if (update.kind === 'status') {
      const state: JobState = update.status.state;
      const cause: string = update.status.cause;
      if (state === 'failed') throw new Error(`${update.status.reason}: ${cause}`);
    } else {
      const stage: string | undefined = update.event.stage;
      console.log(stage, update.event.data, usd);
    }
  }
  for await (const line of await tp.logs(job.jobId, 100)) console.log(line.line, line.source);
  const actions: ReconcileAction[] = await tp.reconcile();
  const failed: ReconcileError[] = actions.flatMap((a) => (a.error ? [a.error] : []));
  console.log(
    actions.map((a) => [a.podId ?? 'no pod', a.jobState]),
    failed.map((e) => e.code),
  );
  const cancelled: JobStatus = await tp.cancel(job.jobId);
  console.log(cancelled.billedUsd ?? cancelled.estimateUsd, cancelled.account);
  const files: ArtifactFile[] = await tp.downloadArtifacts(cancelled.jobId, '/tmp/out');
  console.log(files.length);
  return [plan, await tp.retry(job.jobId)];
}

export { deployJob, perUserAccounts };

declare const tp: Trainpod;

// `POST /api/jobs/[job]/metrics`
export async function POST(req: Request, ctx: { params: Promise<{ job: string }> }): Promise<Response> {
  const { job } = await ctx.params;
  try {
    const body = new Uint8Array(await req.arrayBuffer());
    const out: IngestOutcome = await tp.ingestMetrics(job, req.headers.get('authorization'), body);
    const state: JobState = out.job.state;
    return new Response(out.body, { status: out.status, headers: { 'content-type': 'application/json', state } });
  } catch (err) {
    const code = err instanceof TrainpodError ? err.code : 'INTERNAL';
    return Response.json({ error: code }, { status: httpStatus(code) });
  }
}

// `PUT /api/jobs/[job]/artifacts/files/[...path]`
export async function PUT(req: Request, ctx: { params: Promise<{ job: string; path: string[] }> }): Promise<Response> {
  const { job, path } = await ctx.params;
  if (!req.body) return new Response(null, { status: 400 });
  const file: ArtifactFile = await tp.putArtifact(job, req.headers.get('authorization'), path.join('/'), req.body);
  return Response.json(file);
}

// `GET /api/datasets/[id]` through the SDK.
export async function datasetRoute(req: Request, id: string): Promise<Response> {
  const grant: DatasetGrant = await tp.authorizeDatasetDownload(
    req.headers.get('authorization'),
    new URL(req.url).searchParams.get('token'),
    id,
    req.headers.get('range'),
  );
  return new Response(grant.webStream(), { status: grant.status, headers: grant.headers });
}

// `POST /api/trainpod-webhooks`: the app's receiver, verifying with trainpod's helper.
export async function webhookRoute(req: Request): Promise<Response> {
  try {
    const event: WebhookEvent = verifyWebhook([process.env.WEBHOOK_SECRET ?? ''], req.headers, await req.text());
    const ended: string | null = event.data.endedBy;
    return Response.json({ type: event.type, job: event.data.jobId, ended });
  } catch (err) {
    const code = err instanceof WebhookError ? err.code : 'INTERNAL';
    return new Response(null, { status: httpStatus(code) });
  }
}

// The cron: reconcile, then what is still due.
export async function cron(): Promise<number> {
  await tp.reconcile();
  const report: WebhookReport = await tp.deliverWebhooks();
  return report.deliveries.filter((d) => d.outcome === 'failed').length + report.retrying;
}
