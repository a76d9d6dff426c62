// A small typed REST client for the Kubernetes API: the handful of verbs
// certkeeper uses (get, list, create, replace, patch, server-side apply, delete,
// watch), over Node's https with credentials from src/kube/config.ts.
//
// Why not client-node's generated APIs: certkeeper needs the status
// subresource, server-side apply and metadata-only lists/watches for any
// resource, plus a count of requests by verb (benchmarks report API load);
// one small layer does all of that uniformly, and keeps the ~80 MiB that
// loading client-node costs out of the running operator.
import http from 'node:http';
import https from 'node:https';
import { URL } from 'node:url';
import { loadConnection, type ClusterConnection } from './config.ts';

export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespaced: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  managedFields?: unknown[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** An error answer of the API server, with its Status reason (e.g. AlreadyExists, Conflict). */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.status === 404;
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.status === 409 && e.reason === 'AlreadyExists';
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.status === 409 && e.reason !== 'AlreadyExists';

export type RequestKind = 'read' | 'write' | 'watch';

export interface KubeClientOptions {
  /** Field manager for writes and server-side apply. */
  fieldManager: string;
  userAgent?: string;
  /** Called once per request, for metrics and benchmarks. */
  onRequest?: (kind: RequestKind, verb: string, resource: string) => void;
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
}

const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/**
 * Whether informers list with a streaming watch (sendInitialEvents): the
 * WatchList feature gate is on by default from Kubernetes 1.34 (beta in 1.32,
 * off again in 1.33). A server with the gate off refuses the request with 422
 * and the informer lists page by page.
 */
export function supportsStreamingLists(version: { major?: string; minor?: string } | undefined): boolean {
  const major = Number.parseInt(version?.major ?? '', 10);
  const minor = Number.parseInt(version?.minor ?? '', 10);
  return major > 1 || (major === 1 && minor >= 34);
}

export class KubeClient {
  readonly server: URL;
  readonly fieldManager: string;
  /** Informers list with a streaming watch (see supportsStreamingLists); set from the server's version by connect(). */
  streamingLists = false;
  private readonly connection: ClusterConnection;
  private readonly agent: https.Agent | http.Agent;
  private readonly options: KubeClientOptions;

  /** A client for the cluster a kubeconfig (or the in-cluster service account) describes. */
  static async fromKubeConfig(connection: ClusterConnection | Promise<ClusterConnection>, options: KubeClientOptions): Promise<KubeClient> {
    return new KubeClient(await connection, options);
  }

  private constructor(connection: ClusterConnection, options: KubeClientOptions) {
    this.connection = connection;
    this.server = connection.server;
    this.options = options;
    this.fieldManager = options.fieldManager;
    this.agent = this.server.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, ...connection.tls })
      : new http.Agent({ keepAlive: true });
  }

  /**
   * The CA (PEM) this client trusts for the API server: the kubeconfig's
   * certificate-authority(-data), or the in-cluster ca.crt. Undefined when it
   * trusts the system's roots. For CA injection's inject-apiserver-ca.
   */
  get certificateAuthority(): string | undefined {
    const ca = this.connection.tls.ca;
    if (ca === undefined) return undefined;
    return (Array.isArray(ca) ? ca : [ca]).map((pem) => pem.toString()).join('\n') || undefined;
  }

  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
    const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    const n = name ? `/${encodeURIComponent(name)}` : '';
    const sub = subresource ? `/${subresource}` : '';
    return `${base}${ns}/${type.plural}${n}${sub}`;
  }

  async get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', this.path(type, namespace, name), {}, 'read');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Reads only an object's metadata (no Secret data crosses the wire). */
  async getMetadata(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.request<KubeObject>('GET', this.path(type, namespace, name), { accept: PARTIAL_METADATA }, 'read');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    opts: {
      namespace?: string; labelSelector?: string; fieldSelector?: string; metadataOnly?: boolean; limit?: number;
      transform?: (item: T) => T;
      /** Handles each item as its page arrives; the result's items then stay empty. */
      onItem?: (item: T) => void;
    } = {},
  ): Promise<ListResult<T>> {
    type Page = { items: T[]; metadata: { resourceVersion: string; continue?: string } };
    const items: T[] = [];
    const page = (continueToken: string | undefined): Promise<Page> => this.request<Page>(
      'GET',
      this.path(type, opts.namespace),
      {
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.limit ?? 500,
          continue: continueToken,
        },
        accept: opts.metadataOnly ? PARTIAL_METADATA_LIST : undefined,
      },
      'read',
    );
    let resourceVersion = '';
    let next: Promise<Page> | undefined = page(undefined);
    while (next) {
      const current: Page = await next;
      resourceVersion = current.metadata.resourceVersion;
      // The next page is asked for before this one is handled: the API server
      // serves it while this process parses the one it has.
      next = current.metadata.continue ? page(current.metadata.continue) : undefined;
      try {
        // Shrunk page by page, so a large list never holds every full item at once.
        for (const item of current.items ?? []) {
          const kept = opts.transform ? opts.transform(item) : item;
          if (opts.onItem) opts.onItem(kept);
          else items.push(kept);
        }
      } catch (error) {
        next?.catch(() => undefined);
        throw error;
      }
    }
    return { items, resourceVersion };
  }

  async create<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>('POST', this.path(type, object.metadata.namespace), {
      body: object,
      query: { fieldManager: this.fieldManager },
    }, 'write');
  }

  /** PUT with the object's resourceVersion: fails with Conflict if someone else wrote first. */
  async replace<T extends KubeObject>(type: ResourceType, object: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', this.path(type, object.metadata.namespace, object.metadata.name, subresource), {
      body: object,
      query: { fieldManager: this.fieldManager },
    }, 'write');
  }

  async mergePatch<T extends KubeObject>(
    type: ResourceType, namespace: string | undefined, name: string, patch: unknown, subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', this.path(type, namespace, name, subresource), {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: this.fieldManager },
    }, 'write');
  }

  /** RFC 6902 JSON patch: its "test" operations are preconditions (a failed test is a 422 and changes nothing). */
  async jsonPatch<T extends KubeObject>(
    type: ResourceType, namespace: string | undefined, name: string, operations: { op: string; path: string; value?: unknown }[], subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', this.path(type, namespace, name, subresource), {
      body: operations,
      contentType: 'application/json-patch+json',
      query: { fieldManager: this.fieldManager },
    }, 'write');
  }

  /** Server-side apply with certkeeper's field manager. */
  async apply<T extends KubeObject>(type: ResourceType, object: T, opts: { subresource?: string; force?: boolean } = {}): Promise<T> {
    return this.request<T>('PATCH', this.path(type, object.metadata.namespace, object.metadata.name, opts.subresource), {
      body: object,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: this.fieldManager, force: opts.force ?? true },
    }, 'write');
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string, preconditions?: { resourceVersion?: string; uid?: string }): Promise<boolean> {
    try {
      await this.request('DELETE', this.path(type, namespace, name), {
        body: preconditions ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions } : undefined,
      }, 'write');
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Streams watch events until the server closes the watch, the signal aborts,
   * or an error occurs (rejects; an expired resourceVersion is ApiError 410).
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    opts: {
      namespace?: string; resourceVersion: string; labelSelector?: string; metadataOnly?: boolean; timeoutSeconds?: number;
      /** A streaming list: every object first as ADDED, then a bookmark marked k8s.io/initial-events-end (resourceVersion ''). */
      sendInitialEvents?: boolean;
    },
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const res = await this.send('GET', this.path(type, opts.namespace), {
      query: {
        watch: true,
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: true,
        ...(opts.sendInitialEvents ? { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' } : {}),
        labelSelector: opts.labelSelector,
        timeoutSeconds: opts.timeoutSeconds ?? 300,
      },
      accept: opts.metadataOnly ? PARTIAL_METADATA : undefined,
    }, 'watch', signal, false);
    if ((res.statusCode ?? 500) >= 300) {
      const body = await readBody(res);
      throw toApiError(res.statusCode ?? 500, body);
    }
    await new Promise<void>((resolve, reject) => {
      // Events are cut from the raw bytes at each newline (a byte UTF-8 never
      // uses inside a character) and decoded once each: decoding chunks into
      // strings and joining them copied every byte of a start-up's initial
      // events twice more (50 MB of garbage with 10,000 Secrets).
      let pending: Buffer[] = [];
      const handle = (bytes: Buffer): boolean => {
        const line = bytes.toString('utf8').trim();
        if (!line) return true;
        let event: WatchEvent<T>;
        try {
          event = JSON.parse(line) as WatchEvent<T>;
        } catch {
          res.destroy();
          reject(new Error(`unparseable watch event from ${type.plural}`));
          return false;
        }
        if (event.type === 'ERROR') {
          const status = event.object as unknown as { code?: number; reason?: string; message?: string };
          res.destroy();
          reject(new ApiError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error'));
          return false;
        }
        onEvent(event);
        return true;
      };
      res.on('data', (chunk: Buffer) => {
        let start = 0;
        let newline: number;
        while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
          const piece = chunk.subarray(start, newline);
          const bytes = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece;
          pending = [];
          start = newline + 1;
          if (!handle(bytes)) return;
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
      res.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
    });
  }

  async request<T>(method: string, path: string, opts: RequestOptions, kind: RequestKind): Promise<T> {
    const res = await this.send(method, path, opts, kind);
    const body = await readBody(res);
    const status = res.statusCode ?? 500;
    if (status >= 300) throw toApiError(status, body);
    return (body ? JSON.parse(body) : {}) as T;
  }

  private async send(
    method: string, path: string, opts: RequestOptions, kind: RequestKind, signal?: AbortSignal, timeout = true,
  ): Promise<http.IncomingMessage> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    // Asked per request: tokens (in-cluster, exec plugins) rotate.
    const headers: Record<string, string> = {
      accept: opts.accept ?? 'application/json',
      'user-agent': this.options.userAgent ?? 'certkeeper',
      ...(await this.connection.headers()),
    };
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    this.options.onRequest?.(kind, method, resourceOfPath(path));
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.agent, signal }, resolve);
      if (timeout) {
        req.setTimeout(this.options.requestTimeoutMs ?? 30_000, () => {
          req.destroy(new Error(`${method} ${url.pathname} timed out`));
        });
      }
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function resourceOfPath(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const ns = parts.indexOf('namespaces');
  const rest = ns >= 0 ? parts.slice(ns + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
  return rest[0] ?? 'unknown';
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function toApiError(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { reason?: string; message?: string };
    return new ApiError(status, parsed.reason ?? 'Unknown', parsed.message ?? `HTTP ${status}`);
  } catch {
    return new ApiError(status, 'Unknown', `HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

/** Finds the cluster like kubectl: the path, $KUBECONFIG, ~/.kube/config, or in-cluster. */
export function loadKubeConfig(kubeconfigPath?: string): Promise<ClusterConnection> {
  return loadConnection(kubeconfigPath);
}

export const core = {
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true },
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  serviceaccounts: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  crds: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
} satisfies Record<string, ResourceType>;
