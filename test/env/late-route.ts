// A stand-in for an ingress controller between the CA and certkeeper's HTTP-01
// responder, for the self-check tests: per host, it answers 404 until the test
// says the route is loaded (a controller that loads new routes late), then
// forwards to the responder. A host can also be made unreachable for
// certkeeper's self-check only (split-horizon DNS, no hairpin NAT) while the CA
// gets through. Every request is recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SELF_CHECK_USER_AGENT } from '../../src/solvers/http01/self-check.ts';

export interface RouteRequest {
  host: string;
  path: string;
  fromSelfCheck: boolean;
  status: number;
}

export interface LateRoute {
  port: number;
  requests: RouteRequest[];
  /** The route for host is loaded from now on. */
  load(host: string): void;
  /** certkeeper's self-check never reaches host (the CA does). */
  hideFromSelfCheck(host: string): void;
  stop(): Promise<void>;
}

export async function startLateRoute(responderPort: number): Promise<LateRoute> {
  const loaded = new Set<string>();
  const hidden = new Set<string>();
  const requests: RouteRequest[] = [];
  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const fromSelfCheck = req.headers['user-agent'] === SELF_CHECK_USER_AGENT;
    const record = (status: number) => requests.push({ host, path: req.url ?? '', fromSelfCheck, status });
    if (!loaded.has(host) || (fromSelfCheck && hidden.has(host))) {
      record(404);
      res.writeHead(404).end('404 page not found\n');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: responderPort, path: req.url, headers: req.headers }, (answer) => {
      record(answer.statusCode ?? 0);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      record(502);
      res.writeHead(502).end();
    });
    upstream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    load: (host) => loaded.add(host),
    hideFromSelfCheck: (host) => hidden.add(host),
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
