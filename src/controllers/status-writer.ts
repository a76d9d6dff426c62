// The one way certkeeper writes the status of its objects (Issuers,
// ClusterIssuers, Certificates): only when it differs from the status last
// read or written, and only onto the object it was computed for. The write is
// a JSON patch whose first operation tests metadata.uid, so when the object
// was deleted and re-created under the same name between the read and the
// write, the API server refuses it and nothing lands on the new object.
// (Server-side apply and merge patches name the object only by its name, and
// would write there.) A refused or vanished target is a StaleObjectError: the
// sync stops, and the next one reads the object that is there now.
import { ApiError, isNotFound, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.ts';
import { jsonEqual } from '../util/canonical.ts';

/** The object a status was computed for: its name and the uid it had when read. */
export interface StatusTarget {
  namespace?: string;
  name: string;
  uid: string;
}

/** The object the status was computed for is gone (deleted, perhaps re-created under its name): nothing was written. */
export class StaleObjectError extends Error {
  constructor(type: ResourceType, target: StatusTarget, now: 'deleted' | 'replaced') {
    const where = target.namespace ? `${target.namespace}/${target.name}` : target.name;
    super(`${type.plural} ${where} (uid ${target.uid}) was ${now === 'deleted' ? 'deleted' : 'deleted and re-created'} since it was read; its status was not written`);
    this.name = 'StaleObjectError';
  }
}

export class StatusWriter<S extends object> {
  private readonly kube: KubeClient;
  private readonly type: ResourceType;
  private readonly target: StatusTarget;
  private readonly onWritten: ((written: KubeObject) => void) | undefined;
  private last: S;

  /** `read`: the status as read with the object (never modified). `onWritten`: the object the API server returned. */
  constructor(opts: { kube: KubeClient; type: ResourceType; target: StatusTarget; read: S; onWritten?: (written: KubeObject) => void }) {
    if (!opts.target.uid) throw new Error(`${opts.type.plural} ${opts.target.name}: a status is written only for an object read with its uid`);
    this.kube = opts.kube;
    this.type = opts.type;
    this.target = opts.target;
    this.last = opts.read;
    this.onWritten = opts.onWritten;
  }

  /** The status as last read or written. */
  get status(): S {
    return this.last;
  }

  /** Writes the whole status unless it equals the last one; true when it wrote. */
  async write(status: S): Promise<boolean> {
    if (jsonEqual(status, this.last)) return false;
    const { namespace, name, uid } = this.target;
    let written: KubeObject;
    try {
      written = await this.kube.jsonPatch(this.type, namespace, name, [
        { op: 'test', path: '/metadata/uid', value: uid },
        { op: 'add', path: '/status', value: status },
      ], 'status');
    } catch (error) {
      throw await this.stale(error) ?? error;
    }
    this.last = status;
    this.onWritten?.(written);
    return true;
  }

  /** Whether a refused write was refused because the object is not the one read (a failed test is a 422, like a status the schema rejects). */
  private async stale(error: unknown): Promise<StaleObjectError | undefined> {
    if (isNotFound(error)) return new StaleObjectError(this.type, this.target, 'deleted');
    if (!(error instanceof ApiError) || error.status !== 422) return undefined;
    let current: KubeObject | undefined;
    try {
      current = await this.kube.getMetadata(this.type, this.target.namespace, this.target.name);
    } catch {
      return undefined; // the write's own error says more
    }
    if (!current) return new StaleObjectError(this.type, this.target, 'deleted');
    return current.metadata.uid !== this.target.uid ? new StaleObjectError(this.type, this.target, 'replaced') : undefined;
  }
}
