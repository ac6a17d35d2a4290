// POST /api/training/deploy: plan and deploy. Deploying the same `jobId` again creates no second
// pod, so a retried request (a double click, a timeout) is safe.
import { invalid, object, refused } from '@/lib/http';
import { jobSpec } from '@/lib/spec';
import { trainpod } from '@/lib/trainpod';
import { currentUser } from '@/lib/user';

export async function POST(req: Request) {
  const body = await object(req);
  if (!body) return invalid('send a JSON object: {"jobId", "model", "dataset", "budgetUsd", ...}');
  try {
    const tp = await trainpod();
    const plan = await tp.plan(jobSpec(body, currentUser(req)));
    const job = await tp.deploy(plan);
    return Response.json({ estimate: plan.estimate, deadlineSecs: plan.deadlineSecs, job }, { status: 201 });
  } catch (err) {
    return refused(err);
  }
}
