// Compiled by `npm run typecheck` (never run): the declarations describe real usage.
import {
  type Claims,
  ERROR_CODES,
  generateSecret,
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
