// POST /api/training/deploy: plan and deploy. Deploying the same `jobId` again creates no second
// pod, so a retried request (a double click, a timeout) is safe.
import { invalid, object, refused } from '@/lib/http';
import { jobSpec } from '@/lib/spec';
import { trainpod } from '@/lib/trainpod';
import { currentUser, notYours, owns, unauthenticated } from '@/lib/user';

export async function POST(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  const body = await object(req);
  if (!body) return invalid('send a JSON object: {"jobId", "model", "dataset", "budgetUsd", ...}');
  try {
    const tp = await trainpod();
    const plan = await tp.plan(jobSpec(body, user));
    const job = await tp.deploy(plan);
    // Deploying an existing job id returns that job as it is: another user's stays unknown.
    if (!owns(user, job)) return notYours(job.jobId);
    return Response.json({ estimate: plan.estimate, deadlineSecs: plan.deadlineSecs, job }, { status: 201 });
  } catch (err) {
    return refused(err);
  }
}
