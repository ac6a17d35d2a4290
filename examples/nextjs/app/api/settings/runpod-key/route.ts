// /api/settings/runpod-key: the signed-in user's own RunPod key, which their jobs then run on.
//   GET     whether one is saved (`{saved, savedAt}`); the key itself is never sent back
//   POST    {key}: trainpod's `checkRunpodKey` (valid? may it create pods? which GPUs?), and only
//           when it can run jobs the key is saved, encrypted (lib/secrets.ts); `{saved, check}`
//   DELETE  forgets it: the user's next jobs run on the app's shared key, if it has one
import { invalid, object, refused } from '@/lib/http';
import { deleteRunpodKey, SecretsUnavailable, savedRunpodKey, saveRunpodKey } from '@/lib/secrets';
import { trainpod } from '@/lib/trainpod';
import { currentUser, unauthenticated } from '@/lib/user';

/** The answer when this app cannot keep keys (PROVIDER_SECRETS_KEY unset), or trainpod refused. */
function failed(err: unknown): Response {
  if (err instanceof SecretsUnavailable) {
    return Response.json({ code: 'SECRETS_UNAVAILABLE', message: err.message }, { status: 503 });
  }
  return refused(err);
}

export async function GET(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  const saved = await savedRunpodKey(user);
  return Response.json({ saved: saved !== null, savedAt: saved?.savedAt ?? null });
}

export async function POST(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  const body = await object(req);
  const key = typeof body?.key === 'string' ? body.key.trim() : '';
  if (!key || key.length > 512) return invalid('send {"key": "<your RunPod API key>"}');
  try {
    const check = await (await trainpod()).checkRunpodKey(key);
    if (!check.canRunJobs) {
      const message = check.problem || 'this key cannot create pods';
      return Response.json({ code: 'RUNPOD_KEY_UNUSABLE', message, saved: false, check }, { status: 400 });
    }
    const savedAt = await saveRunpodKey(user, key);
    return Response.json({ saved: true, savedAt, check });
  } catch (err) {
    return failed(err);
  }
}

export async function DELETE(req: Request) {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  try {
    await deleteRunpodKey(user);
    return Response.json({ saved: false, savedAt: null });
  } catch (err) {
    return failed(err);
  }
}
