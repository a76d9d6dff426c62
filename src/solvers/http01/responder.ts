// The HTTP-01 responder: certkeeper answers /.well-known/acme-challenge/<token>
// itself from a small HTTP server in the operator process (no solver pods).
// Tokens and key authorizations are public by design (the CA fetches them
// over plain HTTP), so holding them in memory and logs is fine.
import http from 'node:http';

const PREFIX = '/.well-known/acme-challenge/';

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

  present(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  cleanUp(token: string): void {
    this.tokens.delete(token);
  }

  get size(): number {
    return this.tokens.size;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]!;
    const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : undefined;
    const answer = token ? this.tokens.get(token) ?? this.fallback?.(token) : undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown challenge\n');
    } else {
      this.served++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    }
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
