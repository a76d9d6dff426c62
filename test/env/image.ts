// The operator's image for the node cluster: built from the Dockerfile by
// tools/build-image.sh (podman, cached by the build context's content) and
// imported into the node's containerd. Pods use it with imagePullPolicy Never.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './tools.ts';

export interface OperatorImage {
  /** docker-archive of the image. */
  archive: string;
  repository: string;
  tag: string;
  /** repository:tag */
  name: string;
}

export function ensureOperatorImage(): OperatorImage {
  const archive = execFileSync('bash', [path.join(repoRoot, 'tools/build-image.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop()!;
  const tag = /certkeeper-([0-9a-f]+)\.tar$/.exec(archive)?.[1];
  if (tag === undefined) throw new Error(`unexpected image archive name ${archive}`);
  const repository = 'certkeeper.local/certkeeper';
  return { archive, repository, tag, name: `${repository}:${tag}` };
}
