// POST /api/training/jobs/:id/artifacts (pod-facing): the pod's artifact manifest, answered with
// the uploads still needed, then `{"complete": true}` once every file is stored (docs/pod-protocol.md).
// GET lists the stored artifacts of the job's current attempt (for the page).
import { bytes, json, logPod, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

type Ctx = RouteContext<'/api/training/jobs/[id]/artifacts'>;

export async function POST(req: Request, ctx: Ctx) {
  const { id } = await ctx.params;
  try {
    const answer = await (await trainpod()).artifactManifest(id, req.headers.get('authorization'), await bytes(req));
    return logPod(req, json(answer.body, answer.status));
  } catch (err) {
    return logPod(req, refused(err));
  }
}

export async function GET(_req: Request, ctx: Ctx) {
  const { id } = await ctx.params;
  try {
    return Response.json(await (await trainpod()).artifacts(id));
  } catch (err) {
    return refused(err);
  }
}
