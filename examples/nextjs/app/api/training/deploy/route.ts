// POST /api/training/deploy: plan and deploy. `plan` stores the plan with its job and `deploy`
// deploys what was stored; a retried request for a job already deployed (a double click, a
// timeout) deploys that stored plan again, which returns the job as it is: no second pod. A new
// job runs on the user's own RunPod account once they saved a key in Settings.
import type { JobStatus, Trainpod } from 'trainpod';
import { invalid, object, refused } from '@/lib/http';
import { jobAccount, noRunpodKey } from '@/lib/secrets';
import { jobSpec } from '@/lib/spec';
import { trainpod } from '@/lib/trainpod';
import { currentUser, notYours, owns, unauthenticated } from '@/lib/user';

/** The job `id` names, if there is one; `null` when there is none yet. */
async function existing(tp: Trainpod, id: unknown): Promise<JobStatus | null> {
  if (typeof id !== 'string') return null;
  try {
    return await tp.status(id);
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_FOUND') return null;
    throw err;
  }
}

export async function POST(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  const body = await object(req);
  if (!body) return invalid('send a JSON object: {"jobId", "model", "dataset", "budgetUsd", ...}');
  try {
    const tp = await trainpod();
    const before = await existing(tp, body.jobId);
    // Another user's job id stays unknown: it is neither shown nor touched.
    if (before && !owns(user, before)) return notYours(before.jobId);
    const planned = before && before.state !== 'queued';
    const account = planned ? undefined : await jobAccount(user);
    if (account === null) return noRunpodKey();
    const plan = planned ? await tp.storedPlan(before.jobId) : await tp.plan(jobSpec(body, user, account));
    const job = await tp.deploy(plan);
    return Response.json({ estimate: plan.estimate, deadlineSecs: plan.deadlineSecs, job }, { status: 201 });
  } catch (err) {
    return refused(err);
  }
}
