// The one Trainpod of this server process, built from the environment on first use.
//
//   RUNPOD_API_KEY           the RunPod account key (read by trainpod itself), or, for pods run
//   TRAINPOD_LOCAL_PROVIDER  on this machine, the local provider's REST v2 URL (`trainpod-emulator
//                            --run-pods` prints it) with TRAINPOD_LOCAL_PROVIDER_KEY
//   TRAINPOD_SIGNING_KEYS    the key ring that signs the pods' tokens (read by trainpod itself)
//   TRAINPOD_APP_URL         where pods reach this app: a public https origin on RunPod
//   TRAINPOD_STORE           sqlite://PATH (default sqlite://trainpod.db) or postgres://…
//   TRAINPOD_DATASETS_DIR    the datasets pods may download, one file per id
//   TRAINPOD_ARTIFACTS_DIR   where the pods' uploads (the adapters) are kept
//   TRAINPOD_POD_PYTHON      the pod's Python, for the local provider (its pods run here)
//   PROVIDER_SECRETS_KEY     encrypts the RunPod keys users save in Settings (lib/secrets.ts)
//   TRAINPOD_WEBHOOK_SECRET  signs the job events trainpod POSTs to this app's webhook route
//                            (lib/webhooks.ts); unset, no webhooks are sent
//
// A user who saved a RunPod key in Settings runs jobs on their own account: the job's `account`
// is the user's id (lib/secrets.ts, `jobAccount`), and `credentials` below gives its key when a
// call needs it. RUNPOD_API_KEY (or the local provider) serves the users who saved none.
import { Trainpod, type TrainpodOptions } from 'trainpod';
import { runpodKeyOf } from './secrets';
import { WEBHOOK_ROUTE, webhookSecrets } from './webhooks';

/** The pod-facing routes of this app, which trainpod signs URLs for. */
export const ROUTES = {
  dataset: '/api/datasets/{dataset}/download',
  metrics: '/api/training/jobs/{job}/metrics',
  artifacts: '/api/training/jobs/{job}/artifacts',
};

function options(env = process.env): TrainpodOptions {
  const local = env.TRAINPOD_LOCAL_PROVIDER;
  const secrets = webhookSecrets(env);
  return {
    ...(local ? { localProvider: { baseUrl: local, apiKey: env.TRAINPOD_LOCAL_PROVIDER_KEY ?? '' } } : {}),
    // account id (a user id) → the key that user saved, or null: asked on every call of a job.
    credentials: (account: string) => runpodKeyOf(account),
    appUrl: env.TRAINPOD_APP_URL,
    routes: ROUTES,
    store: env.TRAINPOD_STORE,
    datasetsDir: env.TRAINPOD_DATASETS_DIR ?? 'datasets',
    artifactsDir: env.TRAINPOD_ARTIFACTS_DIR ?? 'artifacts',
    podPython: env.TRAINPOD_POD_PYTHON || undefined,
    // Job events, signed, to this app's own route (app/api/trainpod/webhooks): reconcile (the cron
    // route) sends what is due at the end of its pass. https, or http on loopback with the local
    // provider. Without TRAINPOD_APP_URL, trainpod refuses the secrets for want of a URL.
    ...(secrets.length > 0
      ? {
          webhookUrl: env.TRAINPOD_APP_URL ? `${env.TRAINPOD_APP_URL.replace(/\/+$/, '')}${WEBHOOK_ROUTE}` : undefined,
          webhookSecrets: secrets,
        }
      : {}),
    // The local provider's pods run here, on the CPU and the app's own disk: no GPU to find, a
    // little free disk asked for, and frequent reports so that the page moves.
    ...(local ? { expectGpu: false, podRuntime: { minFreeDiskGb: 1, heartbeatS: 2, flushS: 1, progressS: 1 } } : {}),
  };
}

// On globalThis, so that `next dev` reloading a module does not open the store twice.
const slot = globalThis as { trainpod?: Promise<Trainpod> };

/** The shared instance; a failed creation (a missing key, say) is retried on the next call. */
export function trainpod(): Promise<Trainpod> {
  slot.trainpod ??= Trainpod.create(options()).catch((err: unknown) => {
    slot.trainpod = undefined;
    throw err;
  });
  return slot.trainpod;
}
