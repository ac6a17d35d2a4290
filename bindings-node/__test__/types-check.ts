// Compiled by `npm run typecheck` (never run): the declarations describe real usage.
import { type Claims, ERROR_CODES, type Store, TokenError, Tokens, TrainpodError } from '../index.js';

async function route(authorization: string | null, store: Store): Promise<number> {
  const tokens = new Tokens({ keys: process.env.TRAINPOD_SIGNING_KEYS ?? '', audience: 'https://app.example.com' });
  try {
    const claims: Claims = tokens.verifyAuthorization(authorization, { purpose: 'dataset.read', job: 'job-1' });
    const redeemed: Claims = await tokens.verifyAndRedeem('t', { purpose: 'dataset.read' }, store);
    return claims.exp + redeemed.exp + ERROR_CODES.length;
  } catch (err) {
    if (err instanceof TokenError) return err.code === 'TOKEN_EXPIRED' ? 401 : 403;
    if (err instanceof TrainpodError) return err.status ?? 500;
    throw err;
  }
}

export { route };
