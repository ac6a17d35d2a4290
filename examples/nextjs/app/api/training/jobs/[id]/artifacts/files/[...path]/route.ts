// PUT /api/training/jobs/:id/artifacts/files/<path> (pod-facing): one file of the manifest,
// written to disk chunk by chunk as it arrives, then checked against its size and sha256.
import { logPod, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

export async function PUT(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/artifacts/files/[...path]'>) {
  const { id, path } = await ctx.params;
  try {
    const tp = await trainpod();
    const file = await tp.putArtifact(
      id,
      req.headers.get('authorization'),
      path.join('/'),
      req.body ?? new Uint8Array(),
    );
    return logPod(req, Response.json(file));
  } catch (err) {
    return logPod(req, refused(err));
  }
}
