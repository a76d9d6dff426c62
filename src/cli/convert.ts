// `certkeeper convert`: reads cert-manager manifests (files, directories or
// stdin) and writes certkeeper manifests to stdout or a file, with a report on
// stderr of everything that could not be carried over and why. No network, no
// cluster. The conversion itself is convert-manifests.ts.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dump, loadAll } from 'js-yaml';
import { UsageError } from '../config.ts';
import { convertManifests, formatNote } from './convert-manifests.ts';

export const CONVERT_USAGE = `Usage: certkeeper convert -f FILE|DIR|- [-f ...] [-o FILE]

Reads cert-manager manifests (YAML or JSON; a directory is read recursively for
*.yaml, *.yml and *.json; "-" is stdin) and writes certkeeper manifests:
ACME, selfSigned and CA Issuers and ClusterIssuers and their Certificates
converted, cert-manager.io/ annotations on Ingresses and Gateways and the CA
injection annotations (inject-ca-from, inject-ca-from-secret,
inject-apiserver-ca on webhook configurations, CRDs and APIServices;
allow-direct-injection on Secrets) renamed to certkeeper.io/, anything else
passed through unchanged. Every field that cannot be carried over is listed on
stderr with the reason. Nothing is sent anywhere.

Flags:
  -f, --filename PATH   input file, directory, or - for stdin (repeatable; default -)
  -o, --output FILE     write the manifests there instead of stdout
  -h, --help            show this help
`;

function inputFiles(target: string): string[] {
  if (target === '-') return ['-'];
  const stat = statSync(target);
  if (!stat.isDirectory()) return [target];
  return readdirSync(target, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return inputFiles(full);
      return /\.(ya?ml|json)$/.test(entry.name) ? [full] : [];
    });
}

export async function readDocuments(targets: string[], stdin: () => Promise<string>): Promise<unknown[]> {
  const documents: unknown[] = [];
  for (const target of targets) {
    for (const file of inputFiles(target)) {
      const text = file === '-' ? await stdin() : readFileSync(file, 'utf8');
      try {
        documents.push(...loadAll(text).filter((d) => d !== null && d !== undefined));
      } catch (error) {
        throw new UsageError(`${file === '-' ? 'stdin' : file}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
  return documents;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runConvert(args: string[]): Promise<number> {
  let values: { filename?: string[]; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(CONVERT_USAGE);
    return 0;
  }
  let documents: unknown[];
  try {
    documents = await readDocuments(values.filename ?? ['-'], readStdin);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw new UsageError(`no such file or directory: ${(error as { path?: string }).path}`);
    throw error;
  }
  const result = convertManifests(documents);
  const yaml = result.objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n');
  if (values.output) writeFileSync(values.output, yaml);
  else process.stdout.write(yaml);
  const { converted, passedThrough, skipped } = result.counts;
  process.stderr.write(`certkeeper convert: ${converted} converted, ${passedThrough} passed through unchanged, ${skipped} skipped; ${result.notes.length} thing(s) not carried over${result.notes.length ? ':' : ''}\n`);
  for (const note of result.notes) process.stderr.write(`  ${formatNote(note)}\n`);
  return 0;
}
