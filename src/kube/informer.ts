// An informer: lists a resource, then watches from the list's resourceVersion,
// keeping a cache keyed by namespace/name and telling handlers which keys
// changed. It re-lists after 410 Gone and restarts with capped backoff after
// any other error (client-node's informer stops on those), and reports when it
// has synced once, which is what /readyz waits for.
import type { Logger } from 'pino';
import { ApiError, type KubeClient, type KubeObject, type ResourceType, type WatchEvent } from './client.ts';

export type Key = string;

/** The annotation of the bookmark that ends a streaming list's initial events. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

export function keyOf(meta: { namespace?: string; name: string }): Key {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

export function splitKey(key: Key): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * Whether a resourceVersion seen in a cache is the written one or later.
 * They are opaque strings by contract but etcd's are increasing integers;
 * anything else only counts when equal.
 */
export function resourceVersionAtLeast(seen: string | undefined, written: string): boolean {
  if (seen === undefined) return false;
  if (seen === written) return true;
  return /^\d+$/.test(seen) && /^\d+$/.test(written) && BigInt(seen) >= BigInt(written);
}

export interface InformerOptions<T extends KubeObject> {
  kube: KubeClient;
  type: ResourceType;
  log: Logger;
  namespace?: string;
  labelSelector?: string;
  /** Watch PartialObjectMetadata only: for Secrets, so no key material is cached. */
  metadataOnly?: boolean;
  /** Shrinks what is kept per object (drop managedFields, unneeded data). */
  transform?: (object: T) => T;
  /**
   * Which objects to keep in the cache (default: all). Handlers still hear of
   * every change; an object not kept costs nothing once its event is handled.
   */
  keep?: (key: Key, object: T) => boolean;
  /** Objects per list page: smaller pages mean a lower memory peak while listing. */
  pageSize?: number;
}

export type ChangeHandler<T> = (key: Key, current: T | undefined, previous: T | undefined) => void;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<Key, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly options: InformerOptions<T>;
  private abort = new AbortController();
  private synced = false;
  private syncedWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  /** Keys being read live (readThrough), and whether an event for the key came meanwhile. */
  private readonly liveReads = new Map<Key, { pending: number; changed: boolean }>();
  /** The API server refused a streaming list once: list page by page from then on. */
  private streamingRefused = false;

  constructor(options: InformerOptions<T>) {
    this.options = options;
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: Key): T | undefined {
    return this.cache.get(key);
  }

  /** Objects in the cache. */
  get size(): number {
    return this.cache.size;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /**
   * Reads one object live and caches it if the cache lacks it and `accept`
   * agrees (and `keep`): an object nothing referenced when its event came was
   * not kept, and from now on its changes and its deletion (also one a relist
   * finds) reach the cache. If an event for the key came during the read, the
   * watch's view wins and nothing is stored.
   */
  async readThrough(key: Key, read: () => Promise<T | undefined>, accept: (object: T) => boolean = () => true): Promise<T | undefined> {
    const entry = this.liveReads.get(key) ?? { pending: 0, changed: false };
    entry.pending++;
    this.liveReads.set(key, entry);
    try {
      const object = await read();
      if (object && !entry.changed && !this.cache.has(key) && accept(object)) {
        const kept = this.shrink({ ...object, metadata: { ...object.metadata } });
        if (!this.options.keep || this.options.keep(key, kept)) this.cache.set(key, kept);
      }
      return object;
    } finally {
      if (--entry.pending === 0) this.liveReads.delete(key);
    }
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { kube, type, log } = this.options;
    let failures = 0;
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined && kube.streamingLists && !this.streamingRefused) {
          const streamed = await this.streamingList(signal);
          if (streamed === 'refused') continue;
          if (streamed === 'incomplete') {
            if (signal.aborted) break;
            throw new Error('the watch ended before its initial list was complete');
          }
          // Where the stream ended; undefined after a 410 (too old): stream again.
          resourceVersion = streamed.resourceVersion;
          failures = 0;
          continue;
        }
        if (resourceVersion === undefined) {
          resourceVersion = await this.relist();
        }
        await kube.watch<T>(type, {
          namespace: this.options.namespace,
          labelSelector: this.options.labelSelector,
          metadataOnly: this.options.metadataOnly,
          resourceVersion,
        }, (event) => {
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          this.apply(event);
        }, signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ApiError && error.status === 410) {
          // The resourceVersion is too old: start over from a fresh list.
          resourceVersion = undefined;
          continue;
        }
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        log.warn({ resource: type.plural, err: (error as Error).message, retryInMs: delay }, 'watch failed; restarting');
        await sleep(delay, signal);
        if (failures > 3) resourceVersion = undefined;
      }
    }
  }

  /**
   * The initial list as a watch (KEP-3157 "streaming lists", on by default
   * since Kubernetes 1.34): the API server sends every object as its own
   * ADDED event from its watch cache, then a bookmark marked
   * k8s.io/initial-events-end, and the same stream goes on with changes. No
   * pages: each object is parsed and reduced on its own, so its garbage dies
   * young instead of a whole page of hundreds of objects being promoted to
   * the old generation (the start-up peak), and the API server builds no list
   * responses. Returns the resourceVersion the stream ended at (undefined when
   * its watch expired with 410), 'incomplete' when it ended before the initial
   * list was, 'refused' when the server refuses the parameters (400, 422: the
   * WatchList feature gate off): then lists are read page by page from then on.
   */
  private async streamingList(signal: AbortSignal): Promise<{ resourceVersion: string | undefined } | 'incomplete' | 'refused'> {
    const { kube, type } = this.options;
    const seen = new Set<Key>();
    let initial = true;
    let resourceVersion: string | undefined;
    try {
      await kube.watch<T>(type, {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        metadataOnly: this.options.metadataOnly,
        resourceVersion: '',
        sendInitialEvents: true,
      }, (event) => {
        if (initial) {
          if (event.type === 'BOOKMARK' && event.object.metadata.annotations?.[INITIAL_EVENTS_END] === 'true') {
            initial = false;
            resourceVersion = event.object.metadata.resourceVersion;
            this.initialListDone(seen);
          } else if (event.type === 'ADDED') {
            this.initialItem(this.shrink(event.object), seen);
          }
          return;
        }
        resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
        this.apply(event);
      }, signal);
    } catch (error) {
      if (initial && error instanceof ApiError && (error.status === 400 || error.status === 422)) {
        this.streamingRefused = true;
        this.options.log.info({ resource: type.plural, err: error.message }, 'the API server refuses streaming lists; listing page by page');
        return 'refused';
      }
      // After the initial list, an error of the watch that goes on: handled as any watch's.
      if (!initial && error instanceof ApiError && error.status === 410) return { resourceVersion: undefined };
      throw error;
    }
    return initial ? 'incomplete' : { resourceVersion };
  }

  /** One object of an initial list (pages or stream): stored and told if new or changed. */
  private initialItem(object: T, seen: Set<Key>): void {
    const key = keyOf(object.metadata);
    const previous = this.cache.get(key);
    if (previous?.metadata.resourceVersion !== object.metadata.resourceVersion) {
      this.store(key, object);
      this.emit(key, object, previous);
    }
    if (this.cache.has(key)) seen.add(key);
  }

  /** The initial list is complete: what it did not show was deleted meanwhile; the cache has synced. */
  private initialListDone(seen: Set<Key>): void {
    for (const [key, previous] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit(key, undefined, previous);
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncedWaiters.splice(0)) resolve();
    }
  }

  private async relist(): Promise<string> {
    const { kube, type } = this.options;
    // Items are handled page by page (never all in memory at once); only the
    // keys still in the cache are remembered, to find what was deleted.
    const seen = new Set<Key>();
    const result = await kube.list<T>(type, {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      metadataOnly: this.options.metadataOnly,
      limit: this.options.pageSize,
      transform: (item) => this.shrink(item),
      onItem: (object) => this.initialItem(object, seen),
    });
    this.initialListDone(seen);
    return result.resourceVersion;
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'BOOKMARK') return;
    const object = this.shrink(event.object);
    const key = keyOf(object.metadata);
    const previous = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit(key, undefined, previous);
    } else {
      this.store(key, object);
      this.emit(key, object, previous);
    }
  }

  private store(key: Key, object: T): void {
    if (!this.options.keep || this.options.keep(key, object)) this.cache.set(key, object);
    else this.cache.delete(key);
  }

  private shrink(object: T): T {
    // A copy without the field rather than `delete`: deleting a property turns
    // a V8 object into a hash table (~400 bytes more for every cached object).
    if (object.metadata.managedFields) {
      const { managedFields: _managedFields, ...metadata } = object.metadata;
      object.metadata = metadata;
    }
    return this.options.transform ? this.options.transform(object) : object;
  }

  private emit(key: Key, current: T | undefined, previous: T | undefined): void {
    const reading = this.liveReads.get(key);
    if (reading) reading.changed = true;
    for (const handler of this.handlers) handler(key, current, previous);
  }
}

/** What an InformerView reads from: an Informer, or anything that tells of changes the same way. */
export interface ChangeSource<S> {
  onChange(handler: ChangeHandler<S>): void;
  list(): S[];
  readonly hasSynced: boolean;
  waitForSync(): Promise<void>;
}

/**
 * Some of another informer's objects, in another shape, with no list or watch
 * of its own: the shim keeps the Certificates it owns from the Certificate
 * controller's informer instead of listing and watching every Certificate a
 * second time (at 100,000 Certificates that second list was a large part of
 * the start-up). Handlers hear only of keys in the view, before or after.
 */
export class InformerView<S, T> {
  private readonly cache = new Map<Key, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly source: ChangeSource<S>;

  constructor(source: ChangeSource<S>, options: { keyOf: (object: S) => Key; keep: (object: S) => boolean; view: (object: S) => T }) {
    this.source = source;
    for (const object of source.list()) if (options.keep(object)) this.cache.set(options.keyOf(object), options.view(object));
    source.onChange((key, current) => {
      const previous = this.cache.get(key);
      const next = current !== undefined && options.keep(current) ? options.view(current) : undefined;
      if (next !== undefined) this.cache.set(key, next);
      else this.cache.delete(key);
      if (next !== undefined || previous !== undefined) for (const handler of this.handlers) handler(key, next, previous);
    });
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: Key): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  get hasSynced(): boolean {
    return this.source.hasSynced;
  }

  waitForSync(): Promise<void> {
    return this.source.waitForSync();
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
