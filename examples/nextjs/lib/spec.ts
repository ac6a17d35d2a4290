import type { JobSpecInput } from 'trainpod';

/** The fields the page may set; trainpod's `plan` checks every value and refuses unknown keys. */
const FIELDS = ['jobId', 'model', 'paramsB', 'method', 'hyperparameters', 'gpus', 'budgetUsd', 'maxHours'] as const;

/**
 * A job spec from the page's request: always the current user, always a dataset this app serves,
 * on `account` (the user's own RunPod account; `undefined`: this app's shared key).
 */
export function jobSpec(body: Record<string, unknown>, user: string, account?: string): JobSpecInput {
  const spec: Record<string, unknown> = { user, dataset: { kind: 'app', id: body.dataset } };
  if (account !== undefined) spec.account = account;
  for (const key of FIELDS) {
    if (body[key] !== undefined) spec[key] = body[key];
  }
  return spec as JobSpecInput;
}
