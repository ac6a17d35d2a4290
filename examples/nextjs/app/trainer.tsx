'use client';

import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { CostEstimate, FollowUpdate, JobStatus } from 'trainpod';
import { call, signedIn } from './client';
import { LossChart, type Point } from './loss-chart';

export interface SpecFields {
  model: string;
  dataset: string;
  budgetUsd: number;
  /** Other spec fields (hyperparameters, gpus, paramsB, ...), as JSON. */
  extra: Record<string, unknown>;
}

interface PlanAnswer {
  jobId: string;
  estimate: CostEstimate;
  deadlineSecs: number;
  gpu: { gpuId: string; count: number; pricePerHour: number };
  dataset: { rows: number; bytes: number; format: string | null };
  warnings: string[];
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'over_budget']);
const usd = (n: number) => (n === 0 ? '$0' : `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`);
const duration = (s: number) =>
  s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : `${Math.round(s / 60)} min`;

export function Trainer({ defaults }: { defaults: SpecFields }) {
  const [model, setModel] = useState(defaults.model);
  const [dataset, setDataset] = useState(defaults.dataset);
  const [budget, setBudget] = useState(String(defaults.budgetUsd));
  const [extra, setExtra] = useState(JSON.stringify(defaults.extra, null, 2));
  const [plan, setPlan] = useState<PlanAnswer | null>(null);
  const [job, setJob] = useState<JobStatus | null>(null);
  const [stage, setStage] = useState('');
  const [losses, setLosses] = useState<Point[]>([]);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const source = useRef<EventSource | null>(null);

  const follow = useCallback((jobId: string) => {
    source.current?.close();
    setLosses([]);
    setStage('');
    window.history.replaceState(null, '', `?job=${encodeURIComponent(jobId)}`);
    const events = new EventSource(`/api/training/jobs/${encodeURIComponent(jobId)}/follow`);
    source.current = events;
    events.onmessage = (message) => {
      const update = JSON.parse(message.data) as FollowUpdate;
      if (update.kind === 'status') {
        setJob(update.status);
        return;
      }
      const { type, data, stage } = update.event;
      if (type === 'stage' && stage) setStage(stage);
      if (type === 'log' && typeof data.loss === 'number' && typeof data.step === 'number') {
        const point = { step: data.step, loss: data.loss };
        setLosses((points) => [...points, point]);
      }
      if (type === 'log' && typeof data.eval_loss === 'number' && typeof data.step === 'number') {
        const point = { step: data.step, loss: data.eval_loss, heldOut: true };
        setLosses((points) => [...points, point]);
      }
    };
    events.addEventListener('end', () => events.close());
  }, []);

  // Reopened with ?job=<id>: follow that job again, once signed in.
  useEffect(() => {
    const jobId = new URLSearchParams(window.location.search).get('job');
    if (jobId) void signedIn().then(() => follow(jobId));
    return () => source.current?.close();
  }, [follow]);

  function spec() {
    return { ...JSON.parse(extra || '{}'), model, dataset, budgetUsd: Number(budget) };
  }

  async function act(work: () => Promise<void>) {
    setBusy(true);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const estimate = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => setPlan(await call<PlanAnswer>('/api/training/plan', spec())));
  };
  const deploy = () =>
    act(async () => {
      if (!plan) return;
      const answer = await call<{ job: JobStatus }>('/api/training/deploy', { ...spec(), jobId: plan.jobId });
      setJob(answer.job);
      follow(answer.job.jobId);
    });
  const control = (what: 'cancel' | 'retry') =>
    act(async () => {
      if (!job) return;
      const status = await call<JobStatus>(`/api/training/jobs/${encodeURIComponent(job.jobId)}/${what}`, {});
      setJob(status);
      if (what === 'retry') follow(status.jobId);
    });

  const ended = job !== null && FINAL.has(job.state);
  return (
    <>
      <form onSubmit={estimate}>
        <fieldset disabled={busy || (job !== null && !ended)}>
          <label>
            Model
            <input name="model" value={model} onChange={(e) => setModel(e.target.value)} size={40} />
          </label>
          <label>
            Dataset
            <input name="dataset" value={dataset} onChange={(e) => setDataset(e.target.value)} />
          </label>
          <label>
            Budget (USD)
            <input name="budget" type="number" step="0.01" value={budget} onChange={(e) => setBudget(e.target.value)} />
          </label>
          <label>
            Other settings (JSON)
            <textarea name="extra" rows={6} value={extra} onChange={(e) => setExtra(e.target.value)} />
          </label>
          <button type="submit">Estimate cost</button>
        </fieldset>
      </form>
      {error && <p className="error">{error}</p>}
      {plan && <Estimate plan={plan} onDeploy={deploy} disabled={busy || job?.jobId === plan.jobId} />}
      {job && (
        <section aria-label="job">
          <h2>Job {job.jobId}</h2>
          <dl>
            <dt>Phase</dt>
            <dd>
              <span data-testid="state">{job.state}</span>
              {stage && !ended && ` (${stage})`}
              {job.reason && ` — ${job.reason}`}
            </dd>
            {job.cause && (
              <>
                {/* What happened and what to do, in plain words (rendered as text). */}
                <dt>Why</dt>
                <dd data-testid="cause">
                  {job.cause}
                  {job.stage && ` (stage ${job.stage}${job.exitCode !== null ? `, exit code ${job.exitCode}` : ''})`}
                  {job.logTail && (
                    <details>
                      <summary>The end of the pod's log</summary>
                      <pre>{job.logTail}</pre>
                    </details>
                  )}
                </dd>
              </>
            )}
            <dt>Progress</dt>
            <dd>
              <div
                className="bar"
                role="progressbar"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(job.progress * 100)}
              >
                <div style={{ width: `${job.progress * 100}%` }} />
              </div>
              <span data-testid="progress">{Math.round(job.progress * 100)}%</span>
              {job.step !== null && job.totalSteps !== null && ` — step ${job.step} of ${job.totalSteps}`}
              {job.etaSecs !== null && !ended && `, about ${duration(job.etaSecs)} left`}
            </dd>
            <dt>Loss</dt>
            <dd>{job.loss === null ? '—' : job.loss.toFixed(4)}</dd>
            {job.evalLoss !== null && (
              <>
                <dt>Held-out loss</dt>
                <dd data-testid="eval-loss">{job.evalLoss.toFixed(4)}</dd>
              </>
            )}
            <dt>Cost so far</dt>
            <dd data-testid="cost">
              {usd(job.costUsd)} of {usd(job.budgetUsd)}
            </dd>
            {job.billedUsd !== null && (
              <>
                <dt>Billed by RunPod</dt>
                <dd data-testid="billed">
                  {usd(job.billedUsd)}
                  {job.estimateUsd && ` (estimated ${usd(job.estimateUsd[0])} – ${usd(job.estimateUsd[1])})`}
                </dd>
              </>
            )}
            <dt>RunPod account</dt>
            <dd data-testid="account">{job.account ? 'yours (Settings)' : 'the app’s'}</dd>
            <dt>Attempt</dt>
            <dd>{job.attempt}</dd>
          </dl>
          <LossChart points={losses} />
          {!ended && (
            <button type="button" onClick={() => control('cancel')} disabled={busy}>
              Cancel
            </button>
          )}
          {ended && job.state !== 'succeeded' && (
            <button type="button" onClick={() => control('retry')} disabled={busy}>
              Retry
            </button>
          )}
        </section>
      )}
    </>
  );
}

function Estimate({ plan, onDeploy, disabled }: { plan: PlanAnswer; onDeploy: () => void; disabled: boolean }) {
  const { estimate, gpu } = plan;
  return (
    <section aria-label="estimate">
      <h2>
        Estimate: <span data-testid="estimate">{`${usd(estimate.usdLow)} – ${usd(estimate.usdHigh)}`}</span>
      </h2>
      <p>
        {gpu.count} × {gpu.gpuId} at {usd(gpu.pricePerHour)}/h; {plan.dataset.rows} rows; the pod is ended after{' '}
        {duration(plan.deadlineSecs)} at the latest.
      </p>
      <table>
        <thead>
          <tr>
            <th>phase</th>
            <th>time</th>
            <th>cost</th>
          </tr>
        </thead>
        <tbody>
          {estimate.lines.map((line) => (
            <tr key={line.phase}>
              <td>{line.phase.replace('_', ' ')}</td>
              <td className="n">
                {Math.round(line.secondsLow)}–{Math.round(line.secondsHigh)} s
              </td>
              <td className="n">
                {usd(line.usdLow)}–{usd(line.usdHigh)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {plan.warnings.map((w) => (
        <p key={w}>⚠ {w}</p>
      ))}
      <button type="button" onClick={onDeploy} disabled={disabled}>
        Deploy
      </button>
    </section>
  );
}
