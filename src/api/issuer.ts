// Issuer and ClusterIssuer: one schema, one name. The zod schemas here are the
// single source of the TypeScript types, the runtime parsing of objects read
// from the API server, and the CRDs' OpenAPI schemas (src/api/crds.ts).
// Field names follow cert-manager's ACME issuer where the meaning is the same.
import { z } from 'zod';
import { Condition, ObjectMeta, SecretKeySelector, SecretName } from './meta.ts';
import { Solver } from './solvers.ts';

export const DEFAULT_ACCOUNT_KEY_NAME = 'tls.key';
export const DEFAULT_EAB_SECRET_KEY = 'secret';
/**
 * On an Issuer whose EAB key is sharedWithFleet: allows this one cluster to
 * register the account. Its value must be the keyID itself, so an annotation
 * left from an earlier key never authorizes a new one. Set imperatively on one
 * cluster (`certkeeper account register`), never in the Git all clusters share.
 */
export const REGISTER_EAB_KEY_ID_ANNOTATION = 'certkeeper.io/register-eab-key-id';

export const AccountKeyAlgorithm = z.enum(['ECDSA', 'RSA']);
export type AccountKeyAlgorithm = z.infer<typeof AccountKeyAlgorithm>;

export const ExternalAccountBinding = z.object({
  keyID: z.string().min(1).describe('The EAB key ID the CA issued (GTS: keyId of `gcloud publicca external-account-keys create`). GTS consumes a key on first use: a new key ID is your consent to register a new account.'),
  keySecretRef: SecretKeySelector.describe('The Secret (in the Issuer\'s namespace; for a ClusterIssuer, the cluster resource namespace) holding the base64url HMAC key (GTS: b64MacKey). key defaults to "secret".'),
  keyAlgorithm: z.enum(['HS256', 'HS384', 'HS512']).optional().describe('MAC algorithm of the binding (default HS256, which GTS, ZeroSSL and Sectigo use).'),
  sharedWithFleet: z.boolean().optional().describe('This EAB key belongs to one account shared by several clusters (the same Issuer synced from Git to a fleet, or a cluster rebuilt from Git). While the account key Secret is absent, certkeeper generates no key and never sends the EAB key: the Issuer reports FleetAccountMissing until the Secret arrives (from External Secrets, Sealed Secrets or SOPS, made with `certkeeper account export --format ...` on the cluster that registered it), and adopts it without sending the key. Only the one cluster whose Issuer carries the annotation certkeeper.io/register-eab-key-id set to this keyID (`certkeeper account register`; not in Git) registers the account.'),
}).describe('External Account Binding, required by CAs such as Google Trust Services, ZeroSSL and Sectigo.');

export const AccountPrivateKey = z.object({
  algorithm: AccountKeyAlgorithm.default('ECDSA').describe('Algorithm of a newly generated account key: ECDSA (P-256, default) or RSA.'),
  size: z.int().optional().describe('Key size: 2048, 3072 or 4096 for RSA (default 2048); 256 or 384 for ECDSA (default 256).'),
}).meta({
  'x-kubernetes-validations': [
    {
      rule: '!has(self.size) || (self.algorithm == "RSA" ? self.size in [2048, 3072, 4096] : self.size in [256, 384])',
      message: 'size must be 2048, 3072 or 4096 for RSA and 256 or 384 for ECDSA',
    },
  ],
});

export const AcmeIssuerSpec = z.object({
  server: z.string().min(1).describe('The ACME directory URL, e.g. https://dv.acme-v02.api.pki.goog/directory (Google Trust Services) or https://acme-v02.api.letsencrypt.org/directory.').meta({
    'x-kubernetes-validations': [{ rule: 'isURL(self) && self.startsWith("https://")', message: 'server must be an https:// URL' }],
  }),
  email: z.string().optional().describe('Contact email registered with the account. Required by Google Trust Services; changing it updates the account\'s contact, it never registers a new account.').meta({
    'x-kubernetes-validations': [{ rule: 'self.matches("^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$")', message: 'email must be an email address' }],
  }),
  privateKeySecretRef: SecretKeySelector.describe('The Secret that holds the ACME account key (created by certkeeper if absent, never overwritten). key defaults to tls.key. Several Issuers may share one Secret: they share the account.'),
  privateKey: AccountPrivateKey.optional().describe('How to generate the account key when certkeeper creates it.'),
  profile: z.string().optional().describe('ACME profile (e.g. GTS "standard" or "minimal") for this issuer\'s certificates; a Certificate\'s own profile wins.'),
  preferredChain: z.string().optional().describe('Common name of the root of the chain to prefer when the CA offers alternates; a Certificate\'s own preferredChain wins.'),
  enableDurationFeature: z.boolean().optional().describe('Send each Certificate\'s duration to the CA as the order\'s notAfter (the CA must support it; GTS and Let\'s Encrypt choose lifetimes by profile instead).'),
  disableAccountKeyGeneration: z.boolean().optional().describe('Never generate an account key: use the one in privateKeySecretRef (for example an account created elsewhere and imported), and report AccountKeyNotFound while it is absent.'),
  externalAccountBinding: ExternalAccountBinding.optional(),
  skipTLSVerify: z.boolean().optional().describe('Do not verify the ACME server\'s TLS certificate. For testing only; exclusive with caBundle.'),
  caBundle: z.string().optional().describe('Base64-encoded PEM bundle of CAs that sign the ACME server\'s TLS certificate, instead of the system roots.'),
  solvers: z.array(Solver).max(64).optional().describe('How to solve challenges for Certificates of this Issuer; the most specific selector wins (dnsNames, then the longest dnsZones, then matchLabels, then order). At most 64 (bounds the validation cost at the API server).'),
}).meta({
  'x-kubernetes-validations': [
    { rule: '!(has(self.skipTLSVerify) && self.skipTLSVerify && has(self.caBundle))', message: 'skipTLSVerify and caBundle are mutually exclusive' },
    { rule: '!has(self.externalAccountBinding) || has(self.email)', message: 'email is required with externalAccountBinding: CAs that use EAB (Google Trust Services) reject accounts without a contact, and a rejected registration can use up the key' },
  ],
}).describe('An ACME CA account.');
export type AcmeIssuerSpec = z.infer<typeof AcmeIssuerSpec>;

export const SelfSignedIssuerSpec = z.object({
  crlDistributionPoints: z.array(z.string()).optional().describe('CRL distribution point URLs to put in each certificate.'),
}).describe('Signs each Certificate with the Certificate\'s own private key (cert-manager\'s selfSigned issuer). A Certificate with isCA: true becomes a root CA for a ca issuer.');

export const CAIssuerSpec = z.object({
  secretName: SecretName.describe('The kubernetes.io/tls Secret holding the signing CA\'s certificate (tls.crt) and key (tls.key), in the Issuer\'s namespace (a ClusterIssuer: the cluster resource namespace). certkeeper reads it and never writes it.'),
  crlDistributionPoints: z.array(z.string()).optional().describe('CRL distribution point URLs to put in each certificate.'),
  ocspServers: z.array(z.string()).optional().describe('OCSP responder URLs to put in each certificate (Authority Information Access).'),
  issuingCertificateURLs: z.array(z.string()).optional().describe('URLs where the CA certificate can be fetched (Authority Information Access caIssuers).'),
}).describe('Signs each Certificate with a CA key pair held in a Secret (cert-manager\'s ca issuer).');
export type CAIssuerSpec = z.infer<typeof CAIssuerSpec>;

export const IssuerSpec = z.object({
  acme: AcmeIssuerSpec.optional(),
  selfSigned: SelfSignedIssuerSpec.optional(),
  ca: CAIssuerSpec.optional(),
}).meta({
  'x-kubernetes-validations': [
    { rule: '[has(self.acme), has(self.selfSigned), has(self.ca)].filter(x, x).size() == 1', message: 'exactly one of acme, selfSigned or ca is required' },
  ],
}).refine((spec) => [spec.acme, spec.selfSigned, spec.ca].filter((x) => x !== undefined).length === 1, 'exactly one of acme, selfSigned or ca is required')
  .describe('Which CA issues certificates: an ACME CA with an account (acme), the Certificate\'s own key (selfSigned), or a CA key pair in a Secret (ca). Exactly one.');
export type IssuerSpec = z.infer<typeof IssuerSpec>;

/** How an issuer signs: at an ACME CA, or here (selfSigned, ca). */
export type IssuerType = 'acme' | 'selfSigned' | 'ca';
export function issuerType(spec: IssuerSpec): IssuerType {
  return spec.acme ? 'acme' : spec.selfSigned ? 'selfSigned' : 'ca';
}

export const AcmeIssuerStatus = z.object({
  accountSecretRef: z.object({
    name: z.string().describe('Name of the account key Secret.'),
    namespace: z.string().describe('Namespace of the account key Secret.'),
  }).optional().describe('The Secret that holds this account\'s key (back it up: a lost key cannot be registered again with the same EAB key).'),
  uri: z.string().optional().describe('The ACME account URL.'),
  lastRegisteredEmail: z.string().optional().describe('The contact email the CA has for the account.'),
  keyThumbprint: z.string().optional().describe('RFC 7638 thumbprint of the account key.'),
  eabKeyID: z.string().optional().describe('The EAB key ID the account was registered with.'),
  registeredAt: z.string().optional().describe('When certkeeper saw the account registered.'),
  eabRejected: z.object({
    keyID: z.string().describe('The rejected EAB key ID.'),
    secretResourceVersion: z.string().describe('resourceVersion of the EAB Secret when the key was rejected; a change to the Secret allows one more try.'),
    time: z.string().describe('When the CA rejected the key.'),
  }).optional().describe('The CA rejected this EAB key (consumed or expired). certkeeper does not send it again until the key ID or its Secret changes.'),
}).describe('The ACME account as certkeeper last saw it.');
export type AcmeIssuerStatus = z.infer<typeof AcmeIssuerStatus>;

export const IssuerStatus = z.object({
  observedGeneration: z.int().optional().describe('The metadata.generation this status was computed for (kstatus, Flux and Argo CD read it).'),
  conditions: z.array(Condition).optional().describe('Ready says whether the account can be used to issue certificates, and if not, why. Stalled (True) when it needs a person, Reconciling (True) while certkeeper is still working on it: the kstatus convention Flux reads.'),
  acme: AcmeIssuerStatus.optional(),
}).describe('What certkeeper observed: readiness and the ACME account.');
export type IssuerStatus = z.infer<typeof IssuerStatus>;

export const Issuer = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: ObjectMeta,
  spec: IssuerSpec,
  status: IssuerStatus.optional(),
});
export type Issuer = z.infer<typeof Issuer>;

export type IssuerKind = 'Issuer' | 'ClusterIssuer';
