'use client';

import { type FormEvent, useEffect, useState } from 'react';
import type { KeyAccess, KeyCheck } from 'trainpod';
import { request, signedIn } from '../client';

interface Saved {
  saved: boolean;
  savedAt: number | null;
}
interface Answer extends Saved {
  check?: KeyCheck;
  code?: string;
  message?: string;
}

const ACCESS: Record<KeyAccess, string> = {
  read_write: 'read and write',
  read_only: 'read only',
  no_pods: 'no access to pods',
  refused: 'refused by RunPod',
};
const yes = (b: boolean) => (b ? 'yes' : 'no');
const price = (usd: number | null) => (usd === null ? '' : ` $${usd.toFixed(2)}/h`);

/** How many GPU types the key's account sees, and the cheapest few available now. */
function gpus(check: KeyCheck): string {
  if (check.gpus.length === 0) return 'none';
  const free = check.gpus.filter((g) => g.available);
  const shown = free.slice(0, 4).map((g) => `${g.gpuId}${price(g.securePrice ?? g.communityPrice)}`);
  return `${check.gpus.length} types, ${free.length} available now: ${shown.join(', ')}${free.length > 4 ? ', …' : ''}`;
}

/** Paste a RunPod key, see what it can do, and save it (the app keeps it encrypted). */
export function RunpodKeyForm() {
  const [user, setUser] = useState('');
  const [saved, setSaved] = useState<Saved | null>(null);
  const [key, setKey] = useState('');
  const [check, setCheck] = useState<KeyCheck | null>(null);
  const [note, setNote] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void signedIn().then(async ({ user }) => {
      setUser(user);
      setSaved((await request<Saved>('/api/settings/runpod-key')).body);
    });
  }, []);

  async function send(method: 'POST' | 'DELETE', body?: unknown) {
    setBusy(true);
    setError('');
    setNote('');
    try {
      const res = await request<Answer>('/api/settings/runpod-key', method, body);
      setCheck(res.body.check ?? null);
      if (res.ok) {
        setSaved({ saved: res.body.saved, savedAt: res.body.savedAt });
        setNote(res.body.saved ? 'Saved: your next jobs run on this RunPod account.' : 'Removed.');
        setKey('');
      } else {
        setError(
          `${res.body.message ?? 'failed'} [${res.body.code ?? 'ERROR'}]${res.body.check ? ' — not saved' : ''}`,
        );
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send('POST', { key });
  };

  return (
    <section aria-label="RunPod key">
      <p>
        Signed in as <span data-testid="user">{user}</span>. <a href="/">Train a model</a>
      </p>
      <h2>Your RunPod API key</h2>
      <p data-testid="key-status">
        {saved === null
          ? '…'
          : saved.saved
            ? `A key is saved (${new Date((saved.savedAt ?? 0) * 1000).toLocaleString()}): your jobs run on your RunPod account.`
            : 'No key saved: create one with All permission at runpod.io (Settings → API Keys) and paste it here.'}
      </p>
      <form onSubmit={submit}>
        <fieldset disabled={busy}>
          <label>
            RunPod API key
            <input
              name="runpod-key"
              type="password"
              autoComplete="off"
              size={48}
              value={key}
              onChange={(e) => setKey(e.target.value)}
            />
          </label>
          <button type="submit" disabled={!key.trim()}>
            Check and save
          </button>
          {saved?.saved && (
            <button type="button" onClick={() => void send('DELETE')}>
              Remove the saved key
            </button>
          )}
        </fieldset>
      </form>
      {note && <p data-testid="key-note">{note}</p>}
      {error && <p className="error">{error}</p>}
      {check && (
        <dl data-testid="key-check">
          <dt>Valid</dt>
          <dd data-testid="check-valid">{yes(check.valid)}</dd>
          <dt>Access</dt>
          <dd data-testid="check-access">{ACCESS[check.access]}</dd>
          <dt>Can run jobs</dt>
          <dd data-testid="check-can-run">{yes(check.canRunJobs)}</dd>
          <dt>GPUs it sees</dt>
          <dd data-testid="check-gpus">{gpus(check)}</dd>
          {check.problem && (
            <>
              <dt>Problem</dt>
              <dd data-testid="check-problem">{check.problem}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}
