// ACME Renewal Information (RFC 9773): the CA's suggested renewal window for
// a certificate, fetched (unauthenticated GET) from the directory's
// renewalInfo URL, cached per certificate until the Retry-After the CA gives.
// A CA without renewalInfo, or any failure, means "no window": certkeeper
// then renews on its own schedule.
import type { Logger } from 'pino';
import { agentFor, sendAcmeRequest, type AcmeTransportOptions } from './transport.ts';
import { parseRetryAfter } from './account-client.ts';

export interface RenewalWindow {
  start: Date;
  end: Date;
}

const MIN_CACHE_MS = 60_000;
const DEFAULT_CACHE_MS = 6 * 3_600_000;
const MAX_CACHE_MS = 24 * 3_600_000;

export class RenewalInfoClient {
  private readonly directories = new Map<string, { renewalInfo?: string; until: number }>();
  /** directory URL → certID → the window (ms since epoch; NaN start for "none") and until when it holds. */
  private readonly windows = new Map<string, Map<string, { start: number; end: number; until: number }>>();
  private setsSinceSweep = 0;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(log: Logger, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /** The CA's window for the certificate with this certID (src/pki/der.ts), or undefined. Never throws. */
  async window(directoryUrl: string, certId: string, transport: AcmeTransportOptions): Promise<RenewalWindow | undefined> {
    try {
      let byCert = this.windows.get(directoryUrl);
      if (!byCert) this.windows.set(directoryUrl, byCert = new Map());
      const cached = byCert.get(certId);
      if (cached && cached.until > this.now()) return Number.isNaN(cached.start) ? undefined : { start: new Date(cached.start), end: new Date(cached.end) };
      // One shared agent (and TLS context) per trust configuration: see AcmeConnections.
      const agent = agentFor(transport);
      const base = await this.renewalInfoUrl(agent, directoryUrl, transport);
      if (!base) {
        this.remember(byCert, certId, NaN, NaN, this.now() + DEFAULT_CACHE_MS);
        return undefined;
      }
      const res = await sendAcmeRequest(agent, `${base.replace(/\/$/, '')}/${certId}`, 'get', {}, transport);
      const retryAfter = parseRetryAfter(res.headers['retry-after'], this.now()) ?? DEFAULT_CACHE_MS;
      const until = this.now() + Math.min(MAX_CACHE_MS, Math.max(MIN_CACHE_MS, retryAfter));
      const body = res.data as { suggestedWindow?: { start?: string; end?: string } };
      const start = Date.parse(body?.suggestedWindow?.start ?? '');
      const end = Date.parse(body?.suggestedWindow?.end ?? '');
      const valid = res.status === 200 && !Number.isNaN(start) && !Number.isNaN(end) && end > start;
      this.remember(byCert, certId, valid ? start : NaN, valid ? end : NaN, until);
      return valid ? { start: new Date(start), end: new Date(end) } : undefined;
    } catch (error) {
      this.log.debug({ err: (error as Error).message }, 'renewal information unavailable');
      return undefined;
    }
  }

  /** Caches an answer; now and then drops expired ones (renewed certificates get new certIDs). */
  private remember(byCert: Map<string, { start: number; end: number; until: number }>, certId: string, start: number, end: number, until: number): void {
    byCert.set(certId, { start, end, until });
    if (++this.setsSinceSweep < 1000) return;
    this.setsSinceSweep = 0;
    const now = this.now();
    for (const entries of this.windows.values()) {
      for (const [id, entry] of entries) if (entry.until <= now) entries.delete(id);
    }
  }

  private async renewalInfoUrl(agent: ReturnType<typeof agentFor>, directoryUrl: string, transport: AcmeTransportOptions): Promise<string | undefined> {
    const cached = this.directories.get(directoryUrl);
    if (cached && cached.until > this.now()) return cached.renewalInfo;
    // The directory the orders use, when shared (AcmeConnections): one request for both.
    const fetch = () => sendAcmeRequest(agent, directoryUrl, 'get', {}, transport);
    const res = await (transport.connections ? transport.connections.directory(directoryUrl, transport, fetch) : fetch());
    const renewalInfo = res.status === 200 ? (res.data as { renewalInfo?: string })?.renewalInfo : undefined;
    this.directories.set(directoryUrl, { renewalInfo, until: this.now() + 3_600_000 });
    return renewalInfo;
  }
}
