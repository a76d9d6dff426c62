// An admission webhook as an operator's chart ships it, for the node-cluster
// test of CA injection (deployed.test.ts): a selfSigned Issuer, a root CA
// Certificate, a ca Issuer on its Secret, the serving Certificate for the
// webhook Service's DNS name, the webhook server as a Deployment that mounts
// the serving Secret, a Service in front of it, and a
// ValidatingWebhookConfiguration that reaches it through clientConfig.service
// and asks certkeeper for its caBundle (certkeeper.io/inject-ca-from), laid
// out the way charts such as opentelemetry-operator's lay theirs out.
//
// The server runs in the operator's image (it has Node.js): a small HTTPS
// server inline in the container's command. It answers AdmissionReview v1,
// denies ConfigMaps named deny-me with its own message (which carries the
// serial number of the certificate it serves, so a test sees which
// certificate the API server was given) and logs one line per review.
// The Pod only accepts connections: it sends nothing anywhere.

export const WEBHOOK_NS = 'webhook-demo';
/** The chart's "fullname". */
const NAME = 'demo-operator';
export const WEBHOOK_SERVICE = `${NAME}-webhook`;
export const WEBHOOK_DEPLOYMENT = `${NAME}-webhook`;
export const SERVING_CERTIFICATE = `${NAME}-serving-cert`;
export const SERVING_SECRET = `${NAME}-webhook-tls`;
export const ROOT_CERTIFICATE = `${NAME}-root-ca`;
export const ROOT_SECRET = `${NAME}-root-ca`;
/** Cluster-scoped, like a chart's: the release's fullname plus a suffix. */
export const WEBHOOK_CONFIGURATION = `${NAME}-validation`;
export const WEBHOOK_NAME = 'vconfigmap.demo-operator.example.com';
export const DENY_MESSAGE = 'the demo webhook does not allow a ConfigMap named deny-me';

/** The webhook server: CommonJS for `node -e`. Reads the mounted Secret once, at start. */
const SERVER_SCRIPT = `
const fs = require('node:fs');
const https = require('node:https');
const { X509Certificate } = require('node:crypto');
const cert = fs.readFileSync('/tls/tls.crt');
const key = fs.readFileSync('/tls/tls.key');
const serial = new X509Certificate(cert).serialNumber;
const server = https.createServer({ cert, key }, (req, res) => {
  // The API server adds ?timeout=<timeoutSeconds>s to the path.
  const { pathname } = new URL(req.url, 'https://webhook');
  if (req.method === 'GET' && pathname === '/healthz') return void res.end('ok');
  if (req.method !== 'POST' || pathname !== '/validate-v1-configmap') return void res.writeHead(404).end();
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { request } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const name = request.name || request.object?.metadata?.name;
    const allowed = name !== 'deny-me';
    console.log(\`\${allowed ? 'allowed' : 'denied'} \${request.operation} configmap \${request.namespace}/\${name}\`);
    const response = { uid: request.uid, allowed };
    if (!allowed) response.status = { code: 403, message: ${JSON.stringify(DENY_MESSAGE)} + \` (serving certificate \${serial})\` };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
  });
});
server.listen(9443, () => console.log(\`serving on :9443 with certificate \${serial}\`));
// PID 1 gets no default signal handlers.
process.on('SIGTERM', () => process.exit(0));
`;

/** Everything the "chart" installs, as one List for kubectl apply. */
export function webhookChart(image: string): object {
  const labels = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/component': 'webhook' };
  const issuerKind = { apiVersion: 'certkeeper.io/v1alpha1', kind: 'Issuer' };
  const certificateKind = { apiVersion: 'certkeeper.io/v1alpha1', kind: 'Certificate' };
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { ...issuerKind, metadata: { name: `${NAME}-selfsigned`, namespace: WEBHOOK_NS }, spec: { selfSigned: {} } },
      {
        ...certificateKind,
        metadata: { name: ROOT_CERTIFICATE, namespace: WEBHOOK_NS },
        spec: {
          isCA: true,
          commonName: `${NAME} webhook root CA`,
          secretName: ROOT_SECRET,
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { name: `${NAME}-selfsigned`, kind: 'Issuer' },
        },
      },
      { ...issuerKind, metadata: { name: `${NAME}-ca`, namespace: WEBHOOK_NS }, spec: { ca: { secretName: ROOT_SECRET } } },
      {
        ...certificateKind,
        metadata: { name: SERVING_CERTIFICATE, namespace: WEBHOOK_NS },
        spec: {
          // The names the API server asks for when it calls clientConfig.service.
          dnsNames: [`${WEBHOOK_SERVICE}.${WEBHOOK_NS}.svc`, `${WEBHOOK_SERVICE}.${WEBHOOK_NS}.svc.cluster.local`],
          secretName: SERVING_SECRET,
          issuerRef: { name: `${NAME}-ca`, kind: 'Issuer' },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: WEBHOOK_DEPLOYMENT, namespace: WEBHOOK_NS, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 5,
              securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [{
                name: 'webhook',
                image,
                imagePullPolicy: 'Never',
                command: ['node', '-e', SERVER_SCRIPT],
                ports: [{ name: 'webhook-server', containerPort: 9443, protocol: 'TCP' }],
                readinessProbe: { httpGet: { scheme: 'HTTPS', path: '/healthz', port: 'webhook-server' }, periodSeconds: 2 },
                resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'cert', mountPath: '/tls', readOnly: true }],
              }],
              volumes: [{ name: 'cert', secret: { secretName: SERVING_SECRET } }],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: WEBHOOK_SERVICE, namespace: WEBHOOK_NS, labels },
        spec: { selector: labels, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'webhook-server' }] },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: {
          name: WEBHOOK_CONFIGURATION,
          labels,
          annotations: { 'certkeeper.io/inject-ca-from': `${WEBHOOK_NS}/${SERVING_CERTIFICATE}` },
        },
        webhooks: [{
          name: WEBHOOK_NAME,
          admissionReviewVersions: ['v1'],
          // No caBundle: certkeeper writes it.
          clientConfig: { service: { name: WEBHOOK_SERVICE, namespace: WEBHOOK_NS, path: '/validate-v1-configmap', port: 443 } },
          failurePolicy: 'Fail',
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': WEBHOOK_NS } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'], scope: 'Namespaced' }],
          sideEffects: 'None',
          timeoutSeconds: 5,
        }],
      },
    ],
  };
}
