// `npm run demo -- --node` works: it runs the deployed story (test/node/ingress-story.ts)
// end to end and says what happened. Its claims are checked against each other:
// the certificate Traefik served is the one in the Secret, the Certificate is
// Ready, the CA saw one registration, and it exits 0 after stopping the cluster.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../env/tools.ts';

it('npm run demo -- --node issues through the deployed operator and shows Traefik serving the certificate', async () => {
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/demo.ts'), '--node'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output).toBe(0);

  const served = /served by Traefik: +sha256 (\S+)/.exec(output)?.[1];
  const inSecret = /in Secret apps\/shop-tls: sha256 (\S+)/.exec(output)?.[1];
  expect(served, output).toMatch(/^[0-9A-F:]{95}$/);
  expect(served).toBe(inSecret);
  expect(output).toMatch(/names: +DNS:shop\.certkeeper\.test/);
  // kubectl get certificates: the shim's Certificate, Ready.
  expect(output).toMatch(/certificate\.certkeeper\.io\/shop-tls +True/);
  expect(output).toContain('hello from web');
  expect(output).toContain('the CA saw 1 registration');
  expect(output).toContain('stopped everything it started');
}, 900_000);
