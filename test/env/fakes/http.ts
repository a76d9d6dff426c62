// The frame of the contract fakes of DNS provider APIs (test/env/fakes/*): an
// HTTP server on 127.0.0.1 and a free port that answers JSON, records every
// request (method, path, and which credential it presented, never the value),
// can answer the next requests with a rate-limit error, and applies record
// changes to the test BIND with RFC 2136, so the CA validates real DNS answers.
import http from 'node:http';
import https from 'node:https';
import { Rfc2136Provider } from '../../../src/solvers/dns01/rfc2136.ts';
import type { DnsEnvInfo } from '../types.ts';

export interface FakeRequest {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  rawBody: string;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeServer {
  url: string;
  /** Every request: method, path and query. */
  log: string[];
  /** The next n requests are answered with this instead (e.g. 429). */
  failNext(n: number, answer: FakeAnswer): void;
  stop(): Promise<void>;
}

export async function startFake(
  handle: (request: FakeRequest) => Promise<FakeAnswer> | FakeAnswer,
  opts: { basePath?: string; /** Serve HTTPS with this certificate (PEM). */ tls?: { cert: string; key: string } } = {},
): Promise<FakeServer> {
  const log: string[] = [];
  let failures: { left: number; answer: FakeAnswer } | undefined;
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        log.push(`${req.method} ${url.pathname}${url.search}`);
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let answer: FakeAnswer;
        if (failures && failures.left > 0) {
          failures.left--;
          answer = failures.answer;
        } else {
          let body: unknown;
          // JSON bodies are parsed; others (a token request's form) are left to the handler as rawBody.
          if (rawBody && /json/.test(req.headers['content-type'] ?? '')) {
            try {
              body = JSON.parse(rawBody);
            } catch {
              answer = { status: 400, body: { message: 'body is not JSON' } };
            }
          }
          try {
            answer ??= await handle({ method: req.method ?? 'GET', url, headers: req.headers, body, rawBody });
          } catch (error) {
            answer = { status: 500, body: { message: (error as Error).message } };
          }
        }
        const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, { ...(text ? { 'Content-Type': 'application/json' } : {}), ...answer.headers });
        res.end(text);
      })();
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${address.port}${opts.basePath ?? ''}`,
    log,
    failNext(n, answer) {
      failures = { left: n, answer };
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The test BIND as a record store for the fakes: TXT values added and removed one at a time. */
export function bindBackend(dns: DnsEnvInfo) {
  const bind = new Rfc2136Provider({ nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: dns.tsig.algorithm, tsigSecret: dns.tsig.secret, zone: dns.zone });
  return {
    zone: dns.zone,
    addTxt: (name: string, value: string) => bind.present(`${name.replace(/\.$/, '')}.`, value),
    removeTxt: (name: string, value: string) => bind.cleanUp(`${name.replace(/\.$/, '')}.`, value),
  };
}

/** True when name (no trailing dot) is the zone or inside it. */
export const inZone = (name: string, zone: string) => name.toLowerCase() === zone || name.toLowerCase().endsWith(`.${zone}`);
