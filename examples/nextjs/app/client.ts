// What the pages share: the demo's sign-in, once per page (a real app has its own), and calls to
// this app's routes.

let session: Promise<{ user: string }> | null = null;
/** The signed-in user; every call waits for the session cookie first. */
export function signedIn(): Promise<{ user: string }> {
  session ??= fetch('/api/session', { method: 'POST' }).then((res) => res.json());
  return session;
}

/** A route's JSON answer, whatever its status. */
export async function request<T>(path: string, method = 'GET', body?: unknown): Promise<{ ok: boolean; body: T }> {
  await signedIn();
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { ok: res.ok, body: (await res.json()) as T };
}

/** A route's JSON answer; a refusal throws its message and code. */
export async function call<T>(path: string, body?: unknown): Promise<T> {
  const res = await request<T & { code?: string; message?: string }>(path, body === undefined ? 'GET' : 'POST', body);
  if (!res.ok) throw new Error(`${res.body.message ?? 'failed'} [${res.body.code ?? 'ERROR'}]`);
  return res.body;
}
