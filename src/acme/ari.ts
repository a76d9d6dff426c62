// ACME Renewal Information (RFC 9773): the CA's suggested renewal window for
// a certificate, fetched (unauthenticated GET) from the directory's
// renewalInfo URL, cached per certificate until the Retry-After the CA gives.
// A CA without renewalInfo, or any failure, means "no window": certkeeper
// then renews on its own schedule.
import type { Logger } from 'pino';
import { makeAgent, sendAcmeRequest, type AcmeTransportOptions } from './transport.ts';
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
  private readonly windows = new Map<string, { window?: RenewalWindow; until: number }>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(log: Logger, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /** The CA's window for the certificate with this certID (src/pki/der.ts), or undefined. Never throws. */
  async window(directoryUrl: string, certId: string, transport: AcmeTransportOptions): Promise<RenewalWindow | undefined> {
    try {
      const key = `${directoryUrl}|${certId}`;
      const cached = this.windows.get(key);
      if (cached && cached.until > this.now()) return cached.window;
      // One shared agent (and TLS context) per trust configuration: see makeAgent.
      const agent = makeAgent(transport);
      const base = await this.renewalInfoUrl(agent, directoryUrl, transport);
      if (!base) {
        this.windows.set(key, { until: this.now() + DEFAULT_CACHE_MS });
        return undefined;
      }
      const res = await sendAcmeRequest(agent, `${base.replace(/\/$/, '')}/${certId}`, 'get', {}, transport);
      const retryAfter = parseRetryAfter(res.headers['retry-after'], this.now()) ?? DEFAULT_CACHE_MS;
      const until = this.now() + Math.min(MAX_CACHE_MS, Math.max(MIN_CACHE_MS, retryAfter));
      const body = res.data as { suggestedWindow?: { start?: string; end?: string } };
      const start = Date.parse(body?.suggestedWindow?.start ?? '');
      const end = Date.parse(body?.suggestedWindow?.end ?? '');
      const window = res.status === 200 && !Number.isNaN(start) && !Number.isNaN(end) && end > start
        ? { start: new Date(start), end: new Date(end) }
        : undefined;
      this.windows.set(key, { window, until });
      return window;
    } catch (error) {
      this.log.debug({ err: (error as Error).message }, 'renewal information unavailable');
      return undefined;
    }
  }

  private async renewalInfoUrl(agent: ReturnType<typeof makeAgent>, directoryUrl: string, transport: AcmeTransportOptions): Promise<string | undefined> {
    const cached = this.directories.get(directoryUrl);
    if (cached && cached.until > this.now()) return cached.renewalInfo;
    const res = await sendAcmeRequest(agent, directoryUrl, 'get', {}, transport);
    const renewalInfo = res.status === 200 ? (res.data as { renewalInfo?: string })?.renewalInfo : undefined;
    this.directories.set(directoryUrl, { renewalInfo, until: this.now() + 3_600_000 });
    return renewalInfo;
  }
}
