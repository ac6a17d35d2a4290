import { connection } from 'next/server';
import { type SpecFields, Trainer } from './trainer';

// The form's starting values; TRAINPOD_EXAMPLE_SPEC (JSON) replaces them, as the tests do to train
// a tiny model on the local provider.
const DEFAULTS: SpecFields = { model: 'Qwen/Qwen2.5-0.5B', dataset: 'chat', budgetUsd: 2, extra: {} };

export default async function Page() {
  await connection(); // read the environment per request, not at build time
  const given = process.env.TRAINPOD_EXAMPLE_SPEC;
  const defaults = given ? { ...DEFAULTS, ...(JSON.parse(given) as Partial<SpecFields>) } : DEFAULTS;
  return (
    <main>
      <h1>Fine-tune a model on RunPod</h1>
      <Trainer defaults={defaults} />
    </main>
  );
}
