// The HTTP-01 responder: certkeeper answers /.well-known/acme-challenge/<token>
// itself from a small HTTP server in the operator process (no solver pods).
// Tokens and key authorizations are public by design (the CA fetches them
// over plain HTTP), so holding them in memory and logs is fine.
import http from 'node:http';

const PREFIX = '/.well-known/acme-challenge/';
/** An ACME token: base64url, at least 128 bits (RFC 8555 §8.3). Anything else is answered 404 at once. */
const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;

export class Http01Responder {
  private readonly tokens = new Map<string, string>();
  /**
   * Answers tokens this process did not present: another replica (the leader)
   * opened the order and recorded the token in the Certificate's status, and
   * the key authorization is token + "." + the account key's thumbprint.
   */
  fallback: ((token: string) => string | undefined) | undefined;
  private server: http.Server | undefined;
  /** Requests answered, for tests and metrics. */
  served = 0;
  /**
   * How long a request for an unknown token waits for it to appear (the
   * leader's status write reaching this replica's watch a moment after the CA
   * already asks), and how many such requests may wait at once.
   */
  readonly unknownTokenWaitMs: number;
  private readonly maxWaiting: number;
  private waiting = 0;

  constructor(opts: { unknownTokenWaitMs?: number; maxWaiting?: number } = {}) {
    this.unknownTokenWaitMs = opts.unknownTokenWaitMs ?? 2000;
    this.maxWaiting = opts.maxWaiting ?? 64;
  }

  present(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  cleanUp(token: string): void {
    this.tokens.delete(token);
  }

  get size(): number {
    return this.tokens.size;
  }

  private lookup(token: string): string | undefined {
    return this.tokens.get(token) ?? this.fallback?.(token);
  }

  /** The answer for a token, waiting briefly for one not known yet (bounded, so random tokens cannot pile up). */
  async answer(token: string | undefined): Promise<string | undefined> {
    if (!token) return undefined;
    const known = this.lookup(token);
    if (known !== undefined || !TOKEN.test(token) || this.waiting >= this.maxWaiting || this.unknownTokenWaitMs <= 0) return known;
    this.waiting++;
    try {
      const deadline = Date.now() + this.unknownTokenWaitMs;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const found = this.lookup(token);
        if (found !== undefined) return found;
      }
      return undefined;
    } finally {
      this.waiting--;
    }
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]!;
    const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/') {
      // A load balancer's health check of the backend (GCE's asks for 200 on "/" before it routes the challenge path).
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    void this.answer(token).then((answer) => {
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown challenge\n');
      } else {
        this.served++;
        res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
      }
    });
  }

  async listen(host: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // reusePort: replicas (and tests' operator pairs) may share one address;
      // any of them can answer, so the kernel may hand connections to either.
      server.listen({ port, host, reusePort: true }, () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
