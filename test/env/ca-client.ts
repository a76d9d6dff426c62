// Client for the GTS proxy's management API (test/env/gts-proxy.ts), for tests
// that only know the management URL (e.g. from the global setup's env).
import type { EabKey, JournalEntry, NewAccountFault, OrderJournalEntry } from './gts-proxy.ts';

async function call<T>(managementUrl: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, managementUrl), {
    method,
    ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} on the CA management API: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Hands out a fresh (unused, just minted) EAB key. */
export function mintEabKey(managementUrl: string): Promise<EabKey> {
  return call(managementUrl, 'POST', '/eab-keys');
}

/** Every newAccount the CA saw, in order. */
export function getJournal(managementUrl: string): Promise<JournalEntry[]> {
  return call(managementUrl, 'GET', '/journal');
}

/** Moves the CA's clock (EAB expiry) forward; returns the new time. */
export async function advanceClock(managementUrl: string, seconds: number): Promise<string> {
  return (await call<{ now: string }>(managementUrl, 'POST', '/clock', { advanceSeconds: seconds })).now;
}

/** Arms a one-shot fault for the next (non-onlyReturnExisting) newAccount; null disarms. */
export async function setNewAccountFault(managementUrl: string, fault: NewAccountFault | null): Promise<void> {
  await call(managementUrl, 'POST', '/new-account-fault', fault ?? { mode: 'none' });
}

/** Delivers every held newAccount response; returns how many. */
export async function releaseHeld(managementUrl: string): Promise<number> {
  return (await call<{ released: number }>(managementUrl, 'POST', '/new-account-fault/release')).released;
}

/** How many newAccount responses are held right now. */
export async function getHeldCount(managementUrl: string): Promise<number> {
  return (await call<{ held: number }>(managementUrl, 'GET', '/new-account-fault')).held;
}

/** Every newOrder the CA saw, in order. */
export function getOrders(managementUrl: string): Promise<OrderJournalEntry[]> {
  return call(managementUrl, 'GET', '/orders');
}

/** Holds the next challenge response POST (never forwarded to Pebble). */
export async function holdNextChallenge(managementUrl: string): Promise<void> {
  await call(managementUrl, 'POST', '/challenge-fault', { mode: 'hold' });
}

/** How many challenge POSTs are held. */
export async function getHeldChallenges(managementUrl: string): Promise<number> {
  return (await call<{ held: number }>(managementUrl, 'GET', '/challenge-fault')).held;
}

/** Drops held challenge POSTs (their connections are closed). */
export async function dropHeldChallenges(managementUrl: string): Promise<number> {
  return (await call<{ dropped: number }>(managementUrl, 'POST', '/challenge-fault/drop')).dropped;
}

/** Holds the next certificate download (the order is already valid: the CA issued it). */
export async function holdNextCertificateDownload(managementUrl: string): Promise<void> {
  await call(managementUrl, 'POST', '/certificate-fault', { mode: 'hold' });
}

/** How many certificate downloads are held. */
export async function getHeldCertificateDownloads(managementUrl: string): Promise<number> {
  return (await call<{ held: number }>(managementUrl, 'GET', '/certificate-fault')).held;
}

/** Drops held certificate downloads (their connections are closed). */
export async function dropHeldCertificateDownloads(managementUrl: string): Promise<number> {
  return (await call<{ dropped: number }>(managementUrl, 'POST', '/certificate-fault/drop')).dropped;
}
