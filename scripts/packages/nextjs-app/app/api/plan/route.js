// One route over the installed packages: a plan against the local provider (its REST v2 URL in
// TRAINPOD_LOCAL_PROVIDER), the estimate as RunPod would charge it; nothing is spent.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecret, Trainpod } from 'trainpod';

export const dynamic = 'force-dynamic';

const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

export async function GET() {
  const datasets = join(process.env.APP_WORK, 'datasets');
  mkdirSync(datasets, { recursive: true });
  writeFileSync(join(datasets, 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: process.env.TRAINPOD_LOCAL_PROVIDER, apiKey: process.env.TRAINPOD_LOCAL_PROVIDER_KEY },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: datasets,
  });
  const plan = await tp.plan({ user: 'check', model: 'Qwen/Qwen2.5-0.5B', dataset: { kind: 'app', id: 'chat' }, budgetUsd: 2 });
  return Response.json({ gpu: plan.gpu.gpuId, usdLow: plan.estimate.usdLow, usdHigh: plan.estimate.usdHigh });
}
