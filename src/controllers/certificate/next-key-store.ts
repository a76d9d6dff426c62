// Writes of the next-key Secret (its format and rules: next-key.ts): the key
// stored before any CSR carries it, and removed once the TLS Secret holds it.
// Every write is recorded as this process's own (writes.ts).
import type { Logger } from 'pino';
import { core, isAlreadyExists, isConflict, type KubeClient, type KubeObject } from '../../kube/client.ts';
import { errorMessage } from '../../kube/controller.ts';
import { clearedNextKeyPatch, nextKeySecret, nextKeySecretName, type NextKey } from './next-key.ts';
import type { OwnWrites } from './writes.ts';

/** Someone wrote the next-key Secret between this sync's read and its write: the next sync decides again. */
export class NextKeyRace extends Error {}

export class NextKeyStore {
  private readonly kube: KubeClient;
  private readonly writes: OwnWrites;
  private readonly installation: string;
  private readonly clock: () => Date;

  constructor(kube: KubeClient, writes: OwnWrites, installation: string, clock: () => Date) {
    this.kube = kube;
    this.writes = writes;
    this.installation = installation;
    this.clock = clock;
  }

  /**
   * Stores the key for this revision before any CSR carries it: creates the
   * next-key Secret (which fails if another Certificate claimed it first) or
   * replaces the version read (which fails if anyone wrote in between).
   */
  async store(ns: string, secretName: string, certificate: { name: string; uid: string }, key: { pem: string; revision: number; requestHash: string }, stored: NextKey | undefined): Promise<void> {
    const body = nextKeySecret({
      namespace: ns, secretName, certificate, key, resourceVersion: stored?.resourceVersion,
      installation: this.installation, storedAt: this.clock(),
    });
    try {
      const written = stored ? await this.kube.replace(core.secrets, body) : await this.kube.create(core.secrets, body);
      this.writes.wrote(`Secret/${ns}/${body.metadata.name}`, written);
    } catch (error) {
      if (isAlreadyExists(error) || isConflict(error)) {
        throw new NextKeyRace(`Secret ${body.metadata.name} changed while the next key was being stored (another Certificate may be issuing into ${secretName}); deciding again`);
      }
      throw new Error(`storing the next private key in Secret ${body.metadata.name} failed: ${errorMessage(error)}`);
    }
  }

  /** Removes the key from the next-key Secret once the TLS Secret holds it; the claim stays. A failure is left for a later sync. */
  async clear(ns: string, secretName: string, resourceVersion: string | undefined, log: Logger): Promise<void> {
    const name = nextKeySecretName(secretName);
    try {
      const written = await this.kube.mergePatch<KubeObject>(core.secrets, ns, name, clearedNextKeyPatch(resourceVersion));
      this.writes.wrote(`Secret/${ns}/${name}`, written);
    } catch (error) {
      // Left for the next sync, which clears it when the cache still shows a key.
      log.warn({ secret: name, err: errorMessage(error) }, 'could not remove the next key after writing the Secret');
    }
  }
}
