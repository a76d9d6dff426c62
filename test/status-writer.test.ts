// The status writer both controllers use (src/controllers/status-writer.ts),
// against the real API server: a status is written only onto the object it
// was computed for. An Issuer or Certificate deleted and re-created under the
// same name between the read and the write refuses the write, and nothing
// lands on the new object. No operator runs here: every write is the test's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificates, type CertificateStatus } from '../src/api/certificate.ts';
import type { IssuerStatus } from '../src/api/issuer.ts';
import { API_VERSION } from '../src/api/meta.ts';
import { CertificateStatusWriter } from '../src/controllers/certificate/status.ts';
import { issuerTypes } from '../src/controllers/issuer/controller.ts';
import { StaleObjectError, StatusWriter } from '../src/controllers/status-writer.ts';
import { ApiError, KubeClient, loadKubeConfig, type KubeObject } from '../src/kube/client.ts';
import { createNamespace, env } from './helpers.ts';

let kube: KubeClient;
let ns: string;
const writes: string[] = [];

interface WithStatus<S> extends KubeObject {
  status?: S;
}

const issuerStatus = (reason: string): IssuerStatus => ({
  observedGeneration: 1,
  conditions: [{ type: 'Ready', status: 'False', reason, message: `status of the first ${reason}`, observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }],
});

async function createIssuer(name: string): Promise<WithStatus<IssuerStatus>> {
  return kube.create(issuerTypes.Issuer, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name, namespace: ns }, spec: { selfSigned: {} } } as KubeObject);
}

async function createCertificate(name: string): Promise<WithStatus<CertificateStatus>> {
  return kube.create(certificates, {
    apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec: { secretName: `${name}-tls`, issuerRef: { name: 'self' }, dnsNames: ['a.example.com'] },
  } as KubeObject);
}

function issuerWriter(object: WithStatus<IssuerStatus>): StatusWriter<IssuerStatus> {
  const { namespace, name, uid } = object.metadata;
  return new StatusWriter<IssuerStatus>({ kube, type: issuerTypes.Issuer, target: { namespace, name, uid: uid! }, read: object.status ?? {} });
}

beforeAll(async () => {
  // A client of this file's own, counting its PATCHes (the status writes: nothing else here patches).
  kube = await KubeClient.fromKubeConfig(loadKubeConfig(env().kubeconfig), {
    fieldManager: 'certkeeper-tests',
    onRequest: (_kind, verb, resource) => { if (verb === 'PATCH') writes.push(resource); },
  });
  ns = await createNamespace(kube, 'status-writer');
});

afterAll(() => {
  kube?.close();
});

describe('the status writer', () => {
  it('writes an Issuer\'s status when it changed, and nothing when it did not', async () => {
    const issuer = await createIssuer('same');
    const writer = issuerWriter(issuer);
    const before = writes.length;
    expect(await writer.write(issuerStatus('Checking'))).toBe(true);
    expect(await writer.write(issuerStatus('Checking'))).toBe(false);
    expect(writes.length - before).toBe(1);
    const read = await kube.get<WithStatus<IssuerStatus>>(issuerTypes.Issuer, ns, 'same');
    expect(read?.status).toEqual(issuerStatus('Checking'));
  });

  it('refuses to write an Issuer\'s status onto an Issuer re-created under its name since it was read', async () => {
    const first = await createIssuer('replaced');
    const writer = issuerWriter(first);
    await kube.delete(issuerTypes.Issuer, ns, 'replaced');
    const second = await createIssuer('replaced');
    expect(second.metadata.uid).not.toBe(first.metadata.uid);

    const refused = await writer.write(issuerStatus('Checking')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StaleObjectError);
    expect((refused as Error).message).toContain('deleted and re-created');
    const now = await kube.get<WithStatus<IssuerStatus>>(issuerTypes.Issuer, ns, 'replaced');
    expect(now?.metadata.uid).toBe(second.metadata.uid);
    expect(now?.status).toBeUndefined();
    expect(now?.metadata.resourceVersion).toBe(second.metadata.resourceVersion);
  });

  it('refuses to write a Certificate\'s status onto a Certificate re-created under its name since it was read', async () => {
    const first = await createCertificate('replaced');
    const { namespace, name, uid } = first.metadata;
    const written: KubeObject[] = [];
    const writer = new CertificateStatusWriter(kube, { namespace, name, uid: uid! }, {}, { generation: 1, now: new Date() }, (object) => written.push(object));
    await kube.delete(certificates, ns, 'replaced');
    const second = await createCertificate('replaced');

    const status: CertificateStatus = { revision: 1, notAfter: '2027-01-01T00:00:00Z' };
    await expect(writer.write(status)).rejects.toBeInstanceOf(StaleObjectError);
    expect(written).toEqual([]);
    const now = await kube.get<WithStatus<CertificateStatus>>(certificates, ns, 'replaced');
    expect(now?.metadata.uid).toBe(second.metadata.uid);
    expect(now?.status).toBeUndefined();

    // The same writer for the object that is there now writes, with the health conditions.
    const current = new CertificateStatusWriter(kube, { namespace, name, uid: second.metadata.uid! }, {}, { generation: 1, now: new Date() }, (object) => written.push(object));
    await current.write(status);
    expect(written).toHaveLength(1);
    const after = await kube.get<WithStatus<CertificateStatus>>(certificates, ns, 'replaced');
    expect(after?.status).toMatchObject({ revision: 1, observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'Pending' }, { type: 'Reconciling', status: 'True' }] });
  });

  it('says an object deleted since it was read is gone, and creates nothing', async () => {
    const issuer = await createIssuer('deleted');
    const writer = issuerWriter(issuer);
    await kube.delete(issuerTypes.Issuer, ns, 'deleted');
    const refused = await writer.write(issuerStatus('Checking')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StaleObjectError);
    expect((refused as Error).message).toContain('was deleted since');
    expect(await kube.get(issuerTypes.Issuer, ns, 'deleted')).toBeUndefined();
  });

  it('passes on a status the API server rejects for itself, not as a replaced object', async () => {
    const issuer = await createIssuer('invalid');
    const writer = issuerWriter(issuer);
    const refused = await writer.write({ observedGeneration: 'one' } as unknown as IssuerStatus).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(422);
    expect(refused).not.toBeInstanceOf(StaleObjectError);
  });
});
