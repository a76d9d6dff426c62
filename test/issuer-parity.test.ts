// A cert-manager user's ACME Issuer, with only the API group changed, on the
// real API server and the running operator: every field is accepted, the ones
// that work here work, and the ones that have no meaning for certkeeper are
// named in the Ready message instead of being ignored silently. The challenge
// routes built from the solver fields are objects the API server accepts.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { httpRouteFor, httpRoutes, ingressFor, ingresses } from '../src/solvers/http01/routes.ts';
import { getJournal, mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, kubectl, kubectlFails, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
interface IssuerObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

let kube: KubeClient;
let operator: OperatorProcess;

beforeAll(async () => {
  kube = await kubeClient();
  operator = await startOperatorProcess({ clusterResourceNamespace: await createNamespace(kube, 'certkeeper-system') });
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

/** A cert-manager ACME Issuer as its documentation shows them, the group changed to certkeeper.io. */
function certManagerStyleIssuer(namespace: string, kid: string) {
  return `apiVersion: ${API_VERSION}
kind: Issuer
metadata:
  name: gts
  namespace: ${namespace}
spec:
  acme:
    server: ${env().acme.directoryUrl}
    email: platform@example.com
    caBundle: ${readFileSync(env().acme.caRootFile).toString('base64')}
    privateKeySecretRef:
      name: gts-account
    externalAccountBinding:
      keyID: ${kid}
      keySecretRef:
        name: eab
        key: secret
      keyAlgorithm: HS256
    solvers:
      - http01:
          ingress:
            class: nginx
            serviceType: ClusterIP
            ingressTemplate:
              metadata:
                annotations:
                  nginx.ingress.kubernetes.io/ssl-redirect: "false"
            podTemplate:
              spec:
                nodeSelector:
                  kubernetes.io/os: linux
      - selector:
          dnsNames: [www.example.com]
        waitInsteadOfSelfCheck: 30s
        http01:
          gatewayHTTPRoute:
            labels:
              exposure: public
            parentRefs:
              - name: public
                namespace: gateways
                kind: Gateway
                group: gateway.networking.k8s.io
                sectionName: http
                port: 80
`;
}

describe('a cert-manager ACME Issuer with only the group changed', () => {
  it('is accepted, registers once, and names the fields that have no effect here', async () => {
    const ns = await createNamespace(kube, 'parity');
    const eab = await mintEabKey(env().acme.managementUrl);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
    await kubectl(['apply', '-f', '-'], certManagerStyleIssuer(ns, eab.keyId));
    const issuer = await waitFor('the Issuer to be ready', async () => {
      const object = await kube.get<IssuerObject>(issuers, ns, 'gts');
      const ready = object?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === 'AccountReady' ? ready : undefined;
    });
    expect(issuer.message).toContain('Note: spec.acme.solvers[0].http01.ingress.podTemplate has no effect (certkeeper runs no solver pods)');
    expect(issuer.message).toContain("spec.acme.solvers[0].http01.ingress.serviceType has no effect without ingress.name (or a Certificate's certkeeper.io/http01-ingress-name): challenges go to certkeeper's own Service");
    // waitInsteadOfSelfCheck (a duration, as in cert-manager 1.21) works here: not in the notes.
    expect(issuer.message).not.toContain('waitInsteadOfSelfCheck');
    expect((await getJournal(env().acme.managementUrl)).filter((e) => e.kid === eab.keyId).map((e) => e.status)).toEqual([201]);
  });

  it('refuses ingress.class together with ingress.ingressClassName at apply time', async () => {
    const ns = await createNamespace(kube, 'parity-bad');
    const manifest = certManagerStyleIssuer(ns, 'kid').replace('            class: nginx\n', '            class: nginx\n            ingressClassName: nginx\n');
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], manifest)).toContain('ingress.class and ingress.ingressClassName are mutually exclusive');
  });

  it('refuses a waitInsteadOfSelfCheck that is not a duration, or longer than 15m, at apply time', async () => {
    const ns = await createNamespace(kube, 'parity-wait');
    const long = certManagerStyleIssuer(ns, 'kid').replace('waitInsteadOfSelfCheck: 30s', 'waitInsteadOfSelfCheck: 1h');
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], long)).toContain('waitInsteadOfSelfCheck is at most 15m');
    const flag = certManagerStyleIssuer(ns, 'kid').replace('waitInsteadOfSelfCheck: 30s', 'waitInsteadOfSelfCheck: true');
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], flag)).toContain('waitInsteadOfSelfCheck');
    const zero = certManagerStyleIssuer(ns, 'kid').replace('waitInsteadOfSelfCheck: 30s', 'waitInsteadOfSelfCheck: "0"');
    await kubectl(['apply', '--dry-run=server', '-f', '-'], zero);
  });

  it('refuses an edit-in-place ingress.name that names another namespace at apply time', async () => {
    const ns = await createNamespace(kube, 'parity-bad');
    const manifest = certManagerStyleIssuer(ns, 'kid').replace('            class: nginx\n', '            class: nginx\n            name: kube-system/web\n');
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], manifest)).toContain('ingress.name is the name of an Ingress, without a namespace');
    // A plain name is accepted (the Ingress of that name in each Certificate's own namespace).
    await kubectl(['apply', '--dry-run=server', '-f', '-'], manifest.replace('name: kube-system/web', 'name: web'));
    // Beside an edited Ingress certkeeper creates only a NodePort or ClusterIP Service, never a LoadBalancer.
    const loadBalancer = manifest.replace('name: kube-system/web', 'name: web').replace('serviceType: ClusterIP', 'serviceType: LoadBalancer');
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], loadBalancer)).toContain('with ingress.name, serviceType is NodePort or ClusterIP');
  });

  it('builds challenge routes from those fields that the API server accepts', async () => {
    const ns = await createNamespace(kube, 'parity-routes');
    const service = { namespace: ns, name: 'certkeeper-http01', port: 8089 };
    const route = { host: 'www.example.com', token: 'token-1', certificate: `${ns}/web` };
    const ingress = await kube.create(ingresses, ingressFor({ ingress: { class: 'nginx', ingressTemplate: { metadata: { labels: { team: 'web' }, annotations: { a: 'b' } } } } }, service, route) as KubeObject);
    expect(ingress.metadata.annotations).toMatchObject({ 'kubernetes.io/ingress.class': 'nginx', a: 'b' });
    const parentRefs = [{ name: 'public', namespace: 'gateways', kind: 'Gateway', group: 'gateway.networking.k8s.io', sectionName: 'http', port: 80 }];
    const httpRoute = await kube.create<KubeObject & { spec: { parentRefs: unknown[] } }>(httpRoutes, httpRouteFor({ gatewayHTTPRoute: { parentRefs, labels: { exposure: 'public' } } }, service, route) as never);
    expect(httpRoute.spec.parentRefs).toEqual(parentRefs);
    expect(httpRoute.metadata.labels).toMatchObject({ exposure: 'public' });
  });
});
