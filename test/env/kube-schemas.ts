// JSON schemas for kubeconform, made from a real API server's OpenAPI v3
// documents (built-in kinds and the installed CRDs alike), so manifest
// validation needs no schema download. One file per kind, named as kubeconform's
// `{{ .ResourceKind }}{{ .KindSuffix }}.json` template expects
// (deployment-apps-v1.json, issuer-certkeeper-v1alpha1.json, service-v1.json).
// Strict: objects that list their properties accept no others (as kubectl's
// server-side field validation does), unless marked to preserve unknown fields.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

interface KubeconfigJson {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { token?: string } }[];
}

function getJsonOnce<T>(url: string, token: string, ca: Buffer): Promise<T> {
  return new Promise((resolve, reject) => {
    https.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
        // A response cut short (the API server busy or restarting) is an error to retry, never a crash.
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()) as T);
        } catch (error) {
          reject(new Error(`GET ${url}: ${(error as Error).message}`));
        }
      });
    }).on('error', reject);
  });
}

async function getJson<T>(url: string, token: string, ca: Buffer): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await getJsonOnce<T>(url, token, ca);
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

type Schema = Record<string, unknown>;

/** additionalProperties: false on every object schema that lists properties (in place). */
function makeStrict(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(makeStrict);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Schema;
  if (schema.properties !== undefined && schema.additionalProperties === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
    schema.additionalProperties = false;
  }
  for (const value of Object.values(schema)) makeStrict(value);
}

/** Writes the schemas into outDir; returns how many kinds. The kubeconfig is the environment's (JSON, token auth). */
export async function writeKubeSchemas(kubeconfigFile: string, outDir: string): Promise<number> {
  const kubeconfig = JSON.parse(fs.readFileSync(kubeconfigFile, 'utf8')) as KubeconfigJson;
  const server = kubeconfig.clusters[0]!.cluster.server;
  const ca = Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data'], 'base64');
  const token = kubeconfig.users[0]!.user.token!;
  fs.mkdirSync(outDir, { recursive: true });
  const index = await getJson<{ paths: Record<string, { serverRelativeURL: string }> }>(`${server}/openapi/v3`, token, ca);
  let kinds = 0;
  for (const { serverRelativeURL } of Object.values(index.paths)) {
    const doc = await getJson<{ components?: { schemas?: Record<string, Schema> } }>(`${server}${serverRelativeURL}`, token, ca);
    const schemas = doc.components?.schemas ?? {};
    makeStrict(schemas);
    for (const [name, schema] of Object.entries(schemas)) {
      const gvks = schema['x-kubernetes-group-version-kind'] as { group: string; version: string; kind: string }[] | undefined;
      for (const gvk of gvks ?? []) {
        const suffix = gvk.group === '' ? `-${gvk.version}` : `-${gvk.group.split('.')[0]}-${gvk.version}`;
        const file = path.join(outDir, `${gvk.kind.toLowerCase()}${suffix}.json`);
        // The document's own components travel along, so every $ref resolves inside the file.
        fs.writeFileSync(file, JSON.stringify({ $ref: `#/components/schemas/${name}`, components: { schemas } }));
        kinds++;
      }
    }
  }
  return kinds;
}
