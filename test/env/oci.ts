// OCI image archives without a registry or an image builder: one uncompressed
// layer made with tar from a directory, a config, a manifest and an index with
// the name containerd imports it under (`ctr images import`).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface OciImageSpec {
  /** Full name, e.g. certkeeper.local/pause:1 */
  name: string;
  /** Directory whose contents become the root file system. */
  rootDir: string;
  entrypoint: string[];
  cmd?: string[];
  user?: string;
  env?: string[];
  workingDir?: string;
}

function blob(dir: string, content: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(content).digest('hex');
  fs.writeFileSync(path.join(dir, 'blobs/sha256', hex), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/** Writes an OCI image archive to outFile (reproducible: fixed owners and times). */
export function writeOciArchive(spec: OciImageSpec, outFile: string): void {
  const work = `${outFile}.d`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'blobs/sha256'), { recursive: true });
  const layerFile = path.join(work, 'layer.tar');
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', spec.rootDir, '-cf', layerFile, '.']);
  const layer = blob(work, fs.readFileSync(layerFile));
  fs.rmSync(layerFile);
  const config = blob(work, Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {
      Entrypoint: spec.entrypoint,
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      ...(spec.user ? { User: spec.user } : {}),
      ...(spec.env ? { Env: spec.env } : {}),
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = blob(work, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(work, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': spec.name.split(':').pop() },
    }],
  }));
  execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', work, '-cf', outFile, 'oci-layout', 'index.json', 'blobs']);
  fs.rmSync(work, { recursive: true, force: true });
}
