// POST /api/training/plan: the estimate before anything is spent (no pod is created), on the
// user's own RunPod account once they saved a key in Settings.
import { invalid, object, refused } from '@/lib/http';
import { jobAccount, noRunpodKey } from '@/lib/secrets';
import { jobSpec } from '@/lib/spec';
import { trainpod } from '@/lib/trainpod';
import { currentUser, unauthenticated } from '@/lib/user';

export async function POST(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  const body = await object(req);
  if (!body) return invalid('send a JSON object: {"model", "dataset", "budgetUsd", ...}');
  try {
    const account = await jobAccount(user);
    if (account === null) return noRunpodKey();
    const plan = await (await trainpod()).plan(jobSpec(body, user, account));
    return Response.json({
      jobId: plan.jobId,
      estimate: plan.estimate,
      deadlineSecs: plan.deadlineSecs,
      gpu: { gpuId: plan.gpu.gpuId, count: plan.gpu.count, pricePerHour: plan.gpu.pricePerHour },
      dataset: plan.dataset,
      warnings: plan.warnings,
    });
  } catch (err) {
    return refused(err);
  }
}
