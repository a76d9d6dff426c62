// Builds the CustomResourceDefinitions from the zod schemas, so the types,
// the runtime validation and the API server's schema cannot drift apart.
// `npm run crds` writes them to crds/; a unit test fails when crds/ is stale.
import { z } from 'zod';
import { GROUP, VERSION } from './meta.ts';
import { CertificateSpec, CertificateStatus } from './certificate.ts';
import { IssuerSpec, IssuerStatus } from './issuer.ts';

type JsonSchema = Record<string, unknown>;

/**
 * Turns zod's OpenAPI output into a Kubernetes structural schema: no
 * additionalProperties:false, no JS-only regexes or bounds, no $schema.
 */
export function toStructural(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    // zod adds JavaScript regexes for its string formats; the API server
    // checks formats itself and uses RE2, so leave patterns to CEL rules.
    if (key === 'pattern' && typeof schema.format === 'string') continue;
    if ((key === 'maximum' && value === Number.MAX_SAFE_INTEGER) || (key === 'minimum' && value === Number.MIN_SAFE_INTEGER)) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value as JsonSchema).map(([k, v]) => [k, toStructural(v as JsonSchema)]));
    } else if ((key === 'items' || key === 'additionalProperties') && value && typeof value === 'object') {
      out[key] = toStructural(value as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (out['x-kubernetes-preserve-unknown-fields'] === true) {
    // A free-form object: its content is validated by certkeeper, not the schema.
    delete out.additionalProperties;
    delete out.properties;
  }
  return out;
}

export function openApiSchema(zodSchema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(zodSchema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonSchema);
}

interface CrdInput {
  kind: string;
  plural: string;
  singular: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames?: string[];
  categories?: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
}

function crd(input: CrdInput): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'certkeeper', 'app.kubernetes.io/part-of': 'certkeeper' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.singular,
        ...(input.shortNames ? { shortNames: input.shortNames } : {}),
        categories: input.categories ?? ['certkeeper'],
      },
      scope: input.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: input.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: input.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion of this object.' },
                kind: { type: 'string', description: 'Kind of this object.' },
                metadata: { type: 'object' },
                spec: openApiSchema(input.spec),
                status: openApiSchema(input.status),
              },
            },
          },
        },
      ],
    },
  };
}

const readyColumns = (account: boolean) => [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
  ...(account ? [{ name: 'Account', type: 'string', jsonPath: '.status.acme.uri' }] : []),
  { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** Every CRD certkeeper serves, by file name in crds/. */
export function customResourceDefinitions(): Record<string, JsonSchema> {
  return {
    'certkeeper.io_issuers.yaml': crd({
      kind: 'Issuer',
      plural: 'issuers',
      singular: 'issuer',
      scope: 'Namespaced',
      // Never cert-manager's (iss, ciss, cert, certs): with both installed, each short name means one kind.
      shortNames: ['ckissuer'],
      description: 'An Issuer is an ACME CA account that Certificates in its namespace use. certkeeper registers the account once per EAB key and keeps its key in the Secret named by spec.acme.privateKeySecretRef.',
      spec: IssuerSpec,
      status: IssuerStatus,
      printerColumns: readyColumns(true),
    }),
    'certkeeper.io_clusterissuers.yaml': crd({
      kind: 'ClusterIssuer',
      plural: 'clusterissuers',
      singular: 'clusterissuer',
      scope: 'Cluster',
      shortNames: ['ckclusterissuer'],
      description: 'A ClusterIssuer is an ACME CA account that Certificates in any namespace use. Its Secrets live in certkeeper\'s cluster resource namespace.',
      spec: IssuerSpec,
      status: IssuerStatus,
      printerColumns: readyColumns(true),
    }),
    'certkeeper.io_certificates.yaml': crd({
      kind: 'Certificate',
      plural: 'certificates',
      singular: 'certificate',
      scope: 'Namespaced',
      shortNames: ['ckcert', 'ckcerts'],
      description: 'A Certificate asks certkeeper for a TLS certificate from an Issuer or ClusterIssuer, written to a kubernetes.io/tls Secret and renewed before it expires.',
      spec: CertificateSpec,
      status: CertificateStatus,
      printerColumns: [
        { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: 'Secret', type: 'string', jsonPath: '.spec.secretName' },
        { name: 'NotAfter', type: 'string', jsonPath: '.status.notAfter' },
        { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
        { name: 'Issuer', type: 'string', jsonPath: '.spec.issuerRef.name', priority: 1 },
        { name: 'Renewal', type: 'string', jsonPath: '.status.renewalTime', priority: 1 },
        { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    }),
  };
}
