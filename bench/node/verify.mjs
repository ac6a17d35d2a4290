// Token verification from Node: the trainpod binding against jose's jwtVerify (HS256) with the
// same claims and checks, measured in one run. Run: `node bench/node/verify.mjs` after
// `npm ci --prefix bench/node` and building bindings-node (`npm run build:release`).
import { createRequire } from 'node:module';
import { SignJWT, jwtVerify } from 'jose';

const require = createRequire(import.meta.url);
const { Tokens } = require('../../bindings-node/index.js');

const secret = Buffer.from('0123456789abcdef0123456789ABCDEF');
const now = Math.floor(Date.now() / 1000);
const audience = 'https://app.example.com';
const tokens = new Tokens({ keys: `k1:active:${secret.toString('base64url')}`, audience, now });
const issued = tokens.issue({ purpose: 'dataset.read', user: 'user-1', job: 'job-1', dataset: 'ds-42' });
const expect = { purpose: 'dataset.read', job: 'job-1', dataset: 'ds-42' };
const c = issued.claims;
const jwt = await new SignJWT({ pur: c.pur, job: c.job, ds: c.ds, jti: c.jti, once: c.once })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setIssuer(c.iss).setAudience(c.aud).setSubject(c.sub)
  .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 900)
  .sign(secret);
const joseOptions = { algorithms: ['HS256'], audience, issuer: 'trainpod', requiredClaims: ['exp', 'nbf', 'sub'] };

// Each is timed as a route calls it: trainpod's verify is synchronous, jose's is awaited.
async function perOp(fn, iterations, { awaited }) {
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    if (awaited) for (let i = 0; i < iterations; i++) await fn();
    else for (let i = 0; i < iterations; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  rounds.sort((a, b) => a - b);
  return rounds[3]; // median, nanoseconds per verify
}

// Both verify successfully before anything is timed.
tokens.verify(issued.token, expect);
await jwtVerify(jwt, secret, joseOptions);

const trainpodNs = await perOp(() => tokens.verify(issued.token, expect), 20000, { awaited: false });
const joseNs = await perOp(() => jwtVerify(jwt, secret, joseOptions), 1000, { awaited: true });
const result = {
  benchmark: 'node token verify',
  trainpod_us: +(trainpodNs / 1000).toFixed(2),
  jose_us: +(joseNs / 1000).toFixed(2),
  ratio: +(joseNs / trainpodNs).toFixed(1),
  target: '>= 20x jose',
};
console.log(JSON.stringify(result));
