// GET /api/datasets/:id/download (pod-facing): the dataset, to the pod holding a token for it.
// trainpod checks the token and its job in the store (404 when there is no such job, 403 for
// another user's or attempt's, 409 once it has ended), opens the file beneath the datasets
// directory and answers Range requests (200, 206 or 416, with ETag); the body streams from that
// open file, never buffered.
import { logPod, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

type Ctx = RouteContext<'/api/datasets/[id]/download'>;

async function grant(req: Request, ctx: Ctx) {
  const { id } = await ctx.params;
  const token = new URL(req.url).searchParams.get('token'); // for tools that cannot set headers
  const tp = await trainpod();
  return tp.authorizeDatasetDownload(req.headers.get('authorization'), token, id, req.headers.get('range'));
}

export async function GET(req: Request, ctx: Ctx) {
  try {
    const g = await grant(req, ctx);
    return logPod(req, new Response(g.webStream(), { status: g.status, headers: g.headers }));
  } catch (err) {
    return logPod(req, refused(err));
  }
}

export async function HEAD(req: Request, ctx: Ctx) {
  try {
    const g = await grant(req, ctx);
    g.close();
    return logPod(req, new Response(null, { status: g.status, headers: g.headers }));
  } catch (err) {
    return logPod(req, refused(err));
  }
}
