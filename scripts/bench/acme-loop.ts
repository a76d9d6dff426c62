// "The limit": the same certificates from the same CA by a bare loop over
// acme-client's lower-level calls, no Kubernetes at all, with the operator's
// concurrency (it runs 8 certificate workers, each driving one order at a
// time with its authorizations in parallel; so does this loop).
//
// It runs in its own process (like the operator, so neither shares an event
// loop with the CA's proxy in the benchmark process) and answers HTTP-01 on
// the CA's validation port itself: the operator must be stopped meanwhile.
//
//   node scripts/bench/acme-loop.ts < LoopInput JSON   → prints one JSON LoopOutput line
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import acme from 'acme-client';
import { acmeEndpointOf } from '../../src/metrics.ts';

export interface LoopInput {
  directoryUrl: string;
  /** PEM file trusted for the CA's TLS listener. */
  caFile: string;
  eab: { keyId: string; hmacKey: string };
  email: string;
  /** 127.0.0.1:<port> where the CA validates HTTP-01. */
  http01Port: number;
  /** The names of each certificate. */
  certificates: string[][];
  concurrency: number;
}

export interface LoopOutput {
  /** From the first order to the last certificate downloaded. */
  totalMs: number;
  /** Per certificate: ms from the start of the batch until its chain was downloaded. */
  doneMs: number[];
  /** Per certificate: ms from its first request until its chain was downloaded. */
  orderMs: number[];
  issued: number;
  errors: string[];
  acmeRequests: Record<string, number>;
  challengesServed: number;
  /** CPU seconds this process used while issuing. */
  cpuSeconds: number;
}

export async function acmeLoop(input: LoopInput): Promise<LoopOutput> {
  const ca = readFileSync(input.caFile, 'utf8');
  // acme-client's own HTTP stack (axios), trusting the CA, with keep-alive.
  acme.axios.defaults.httpsAgent = new https.Agent({ keepAlive: true, ca });
  const acmeRequests: Record<string, number> = {};
  acme.axios.interceptors.request.use((config) => {
    const endpoint = acmeEndpointOf(String(config.url));
    acmeRequests[endpoint] = (acmeRequests[endpoint] ?? 0) + 1;
    return config;
  });

  const tokens = new Map<string, string>();
  let challengesServed = 0;
  const server = http.createServer((req, res) => {
    const token = (req.url ?? '').split('?')[0]!.replace('/.well-known/acme-challenge/', '');
    const answer = tokens.get(token);
    if (answer === undefined) res.writeHead(404).end();
    else {
      challengesServed++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(input.http01Port, '127.0.0.1', () => resolve());
  });

  try {
    const client = new acme.Client({
      directoryUrl: input.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      externalAccountBinding: { kid: input.eab.keyId, hmacKey: input.eab.hmacKey },
      // The operator's polling settings (src/controllers/certificate/issue.ts).
      backoffAttempts: 12,
      backoffMin: 200,
      backoffMax: 10_000,
    });
    await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${input.email}`] });

    const doneMs: number[] = [];
    const orderMs: number[] = [];
    const errors: string[] = [];
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let next = 0;
    const issueOne = async (names: string[]) => {
      let order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
      const authorizations = await client.getAuthorizations(order);
      await Promise.all(authorizations.map(async (authz) => {
        if (authz.status === 'valid') return;
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        if (!challenge) throw new Error(`no http-01 challenge for ${authz.identifier.value}`);
        tokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
        try {
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(authz);
        } finally {
          tokens.delete(challenge.token);
        }
      }));
      const [key, csr] = await acme.crypto.createCsr({ altNames: names }, await acme.crypto.createPrivateEcdsaKey());
      order = await client.finalizeOrder(order, csr);
      if (order.status !== 'valid') order = await client.waitForValidStatus(order);
      const chain = await client.getCertificate(order);
      if (!chain.includes('BEGIN CERTIFICATE') || key.length === 0) throw new Error('empty certificate');
    };
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= input.certificates.length) return;
        const t = performance.now();
        try {
          await issueOne(input.certificates[i]!);
          const now = performance.now();
          doneMs.push(now - started);
          orderMs.push(now - t);
        } catch (error) {
          errors.push(`${input.certificates[i]!.join(',')}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: input.concurrency }, worker));
    const cpu = process.cpuUsage(cpuStart);
    return { totalMs: performance.now() - started, doneMs, orderMs, issued: doneMs.length, errors, acmeRequests, challengesServed, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

/** Runs the loop in a child process; rejects when it fails or takes longer than timeoutMs. */
export function runAcmeLoopProcess(input: LoopInput, timeoutMs: number): Promise<LoopOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(input));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the bare ACME loop took longer than ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', (code) => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as LoopOutput);
      else reject(new Error(`the bare ACME loop exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const output = await acmeLoop(JSON.parse(text) as LoopInput);
  process.stdout.write(JSON.stringify(output) + '\n');
  process.exit(0);
}
