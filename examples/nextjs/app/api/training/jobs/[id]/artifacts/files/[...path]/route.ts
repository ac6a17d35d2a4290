// PUT /api/training/jobs/:id/artifacts/files/<path> (pod-facing): one file of the manifest,
// written to disk chunk by chunk as it arrives, then checked against its size and sha256.
// GET of checkpoints/<attempt>/<step>/<file>: a checkpoint an earlier attempt kept, for the pod
// of a retry that resumes from it (its artifacts token is checked by trainpod).
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
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

export async function GET(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/artifacts/files/[...path]'>) {
  const { id, path } = await ctx.params;
  try {
    const tp = await trainpod();
    const found = await tp.checkpointFile(id, req.headers.get('authorization'), path.join('/'));
    const body = Readable.toWeb(createReadStream(found.path)) as ReadableStream<Uint8Array>;
    return logPod(req, new Response(body, { headers: { 'content-length': String(found.size) } }));
  } catch (err) {
    return logPod(req, refused(err));
  }
}
