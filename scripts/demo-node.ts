// `npm run demo -- --node`: the deployed story, as a user lives it (root only).
// A single-node cluster (kubelet, containerd, kube-proxy, ...), the operator's
// image built from the Dockerfile, certkeeper installed with its Helm chart,
// Traefik as the ingress controller; an Issuer with an EAB key of the GTS-like
// CA and an Ingress annotated certkeeper.io/issuer. Shows the certificate issued,
// what kubectl tells about it, and a TLS handshake with Traefik serving it; then
// stops everything it started. Exits 0 only if Traefik serves the issued
// certificate and the CA saw exactly one registration.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getJournal, getOrders } from '../test/env/ca-client.ts';
import { APPS_NS, clusterTools, RELEASE_NS, waitFor } from '../test/node/helpers.ts';
import { httpsThroughTraefik, secretLeaf, servedChain, startIngressStory, userIngress, type IngressStory } from '../test/node/ingress-story.ts';

const HOST = 'shop.certkeeper.test';
const oneLine = (name: string | undefined) => (name ?? '').replace(/\n/g, ', ');

export async function runNodeDemo(): Promise<number> {
  const started = Date.now();
  const step = (text: string) => console.log(`\n[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);
  const show = (command: string, output: string) => console.log(`$ ${command}\n${output.trimEnd()}`);
  if (process.getuid?.() !== 0) {
    console.error('npm run demo -- --node needs root (kubelet, containerd, iptables); the default `npm run demo` does not');
    return 1;
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-demo-node-'));
  let story: IngressStory | undefined;
  let exitCode = 1;
  try {
    story = await startIngressStory({ workDir, issuers: [{ name: 'gts', http01: { ingress: { ingressClassName: 'traefik' } } }], progress: step });
    const { info, traefikIp } = story;
    const { kubectl } = clusterTools(() => info);

    step('certkeeper runs in Pods under its chart\'s ServiceAccount:');
    show(`kubectl get pods -n ${RELEASE_NS} -o wide`, await kubectl(['get', 'pods', '-n', RELEASE_NS, '-o', 'wide']));
    show(`kubectl get lease -n ${RELEASE_NS}`, await kubectl(['get', 'lease', '-n', RELEASE_NS]));

    const ingress = userIngress('shop', HOST, 'gts');
    step(`applying an Ingress of class traefik for ${HOST}, annotated certkeeper.io/issuer: gts (TLS Secret shop-tls)`);
    show('kubectl apply -f -', await kubectl(['apply', '-f', '-'], JSON.stringify(ingress)));
    // The ingress shim names the Certificate like the Secret.
    await waitFor('the shim\'s Certificate', async () => (await kubectl(['get', 'certificate', 'shop-tls', '-n', APPS_NS, '-o', 'name'])).trim() !== '', 60_000);
    show(`kubectl wait --for=condition=Ready certificate/shop-tls -n ${APPS_NS}`, await kubectl(['wait', '--for=condition=Ready', 'certificate/shop-tls', '-n', APPS_NS, '--timeout=180s']));

    step('what a user looks at:');
    show(`kubectl get issuers,certificates -n ${APPS_NS}`, await kubectl(['get', 'issuers,certificates', '-n', APPS_NS]));
    show(`kubectl describe certificate shop-tls -n ${APPS_NS}`, await kubectl(['describe', 'certificate', 'shop-tls', '-n', APPS_NS]));

    step(`a TLS handshake with Traefik (${traefikIp}:443, SNI ${HOST}):`);
    const secret = await secretLeaf(info, 'shop-tls');
    // Traefik reloads Secrets on its own schedule: wait until it serves this one.
    const chain = await waitFor('Traefik to serve the issued certificate', async () => {
      const served = await servedChain(traefikIp, HOST);
      return served[0]!.fingerprint256 === secret.leaf.fingerprint256 ? served : undefined;
    }, 60_000);
    chain.forEach((cert, i) => {
      console.log(`  ${i === 0 ? 'leaf    ' : `chain[${i}]`}: subject ${oneLine(cert.subject) || '(empty: the name is in the SAN)'}; issuer ${oneLine(cert.issuer)}`);
    });
    const leaf = chain[0]!;
    console.log(`  names:       ${leaf.subjectAltName}`);
    console.log(`  valid:       ${new Date(leaf.validFrom).toISOString()} → ${new Date(leaf.validTo).toISOString()}`);
    console.log(`  served by Traefik:      sha256 ${leaf.fingerprint256}`);
    console.log(`  in Secret ${APPS_NS}/shop-tls: sha256 ${secret.leaf.fingerprint256} (${secret.certificates.length} certificates in tls.crt, ${chain.length} sent by Traefik)`);
    const fingerprints = (certs: { fingerprint256: string }[]) => certs.map((c) => c.fingerprint256).join(' ');
    if (fingerprints(chain) !== fingerprints(secret.certificates)) throw new Error('Traefik sent a chain other than the one in the Secret');
    const response = await httpsThroughTraefik(traefikIp, HOST);
    console.log(`  GET https://${HOST}/ → ${response.split('\r\n')[0]}, body: ${response.split('\r\n\r\n').slice(1).join('').trim()}`);
    if (!response.includes('hello from web')) throw new Error('HTTPS through Traefik did not reach the web backend');

    const registrations = (await getJournal(info.acme.managementUrl)).filter((e) => !e.onlyReturnExisting && e.status === 201);
    const orders = (await getOrders(info.acme.managementUrl)).filter((o) => o.status === 201 && o.identifiers.some((i) => i.value === HOST));
    step(`the CA saw ${registrations.length} registration (EAB key used once) and ${orders.length} order for ${HOST}`);
    if (registrations.length !== 1) throw new Error(`expected exactly one registration, the CA saw ${registrations.length}`);
    step('done: issued by the deployed operator, validated through Traefik, served by Traefik. Stopping the node cluster...');
    exitCode = 0;
  } catch (error) {
    console.error(`\ndemo failed: ${(error as Error).message}\nlogs are in ${workDir}`);
  } finally {
    await story?.stop().catch((error: Error) => {
      console.error(`stopping the node cluster: ${error.message}`);
      exitCode = 1;
    });
    if (exitCode === 0) fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (exitCode === 0) console.log(`stopped everything it started (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  return exitCode;
}
