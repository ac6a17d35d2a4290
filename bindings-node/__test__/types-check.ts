// Compiled by `npm run typecheck` (never run): the declarations describe real usage.
import {
  AppStaging,
  type Claims,
  type DatasetGrant,
  ERROR_CODES,
  generateSecret,
  httpStatus,
  InvalidInputError,
  type IssuedToken,
  Store,
  TokenError,
  Tokens,
  TrainpodError,
} from '../index.js';

async function route(authorization: string | null, store: Store): Promise<number> {
  const tokens = new Tokens({ keys: process.env.TRAINPOD_SIGNING_KEYS ?? '', audience: 'https://app.example.com' });
  try {
    const claims: Claims = tokens.verifyAuthorization(authorization, { purpose: 'dataset.read', job: 'job-1' });
    const redeemed: Claims = await tokens.verifyAndRedeem('t', { purpose: 'dataset.read' }, store);
    return claims.exp + redeemed.exp + ERROR_CODES.length;
  } catch (err) {
    if (err instanceof TokenError) return err.code === 'TOKEN_EXPIRED' ? 401 : 403;
    if (err instanceof InvalidInputError) return 400;
    if (err instanceof TrainpodError) return err.status ?? (err.retryable ? 503 : 500);
    throw err;
  }
}

async function issue(): Promise<string> {
  const store: Store = await Store.open('memory:');
  const tokens = new Tokens({ keys: `k1:active:${generateSecret()}`, audience: 'https://a.example', now: 0 });
  tokens.setNow(60);
  const issued: IssuedToken = tokens.issue({ purpose: 'metrics.write', user: 'u', job: 'j', epoch: 1, ttlSecs: 60 });
  const ep: number | undefined = issued.claims.ep;
  return `${store.backend} ${tokens.activeKey} ${issued.token} ${ep}`;
}

export { issue, route };

// A Next.js route handler serving a staged dataset: `GET /datasets/[id]`.
const staging = new AppStaging('/srv/datasets', new Tokens({ keys: '', audience: 'https://a.example' }));

export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await ctx.params;
  let grant: DatasetGrant;
  try {
    grant = staging.authorizeDatasetDownload({
      authorization: req.headers.get('authorization'),
      queryToken: new URL(req.url).searchParams.get('token'),
      datasetId: id,
      range: req.headers.get('range'),
      ifRange: req.headers.get('if-range'),
    });
  } catch (err) {
    const code = err instanceof TrainpodError ? err.code : 'INTERNAL';
    return Response.json({ error: code }, { status: httpStatus(code) });
  }
  if (req.method === 'HEAD') grant.close();
  const body = req.method === 'HEAD' ? null : grant.webStream();
  return new Response(body, { status: grant.status, headers: grant.headers });
}
