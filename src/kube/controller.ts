// Runs a reconcile function over a work queue with a few workers: the
// controller-runtime contract. A reconcile returns a requeue delay for
// scheduled work (renewal), or nothing; a thrown error is retried with per-key
// backoff (at least the error's retryAfterMs, e.g. a CA's Retry-After).
import type { Logger } from 'pino';
import { WorkQueue, type BackoffPolicy } from './workqueue.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/** An error that says how long to wait before trying again (Retry-After). */
export interface RetryAfter {
  retryAfterMs?: number;
}

export interface ControllerHooks {
  onReconcile?: (controller: string, outcome: 'success' | 'error', seconds: number) => void;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconcile;
  private readonly log: Logger;
  private readonly workers: number;
  private readonly hooks: ControllerHooks;
  private running: Promise<void>[] = [];
  /** Keys that failed, and the earliest time to try them again (backoff, Retry-After). */
  private readonly notBefore = new Map<string, number>();

  constructor(opts: { name: string; reconcile: Reconcile; log: Logger; workers?: number; backoff?: BackoffPolicy; hooks?: ControllerHooks }) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.log = opts.log;
    this.workers = opts.workers ?? 4;
    this.hooks = opts.hooks ?? {};
    this.queue = new WorkQueue(opts.backoff);
  }

  /**
   * Queues a key. Events for a failing key wait for its backoff (so our own
   * status write does not turn into an immediate retry that ignores a CA's
   * Retry-After), unless force says the user changed what to do (a new spec).
   */
  enqueue(key: string, opts: { force?: boolean } = {}): void {
    if (opts.force) this.notBefore.delete(key);
    this.queue.add(key);
  }

  start(): void {
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
  }

  /** Stops taking keys and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const waitMs = (this.notBefore.get(key) ?? 0) - Date.now();
      if (waitMs > 0) {
        this.queue.done(key);
        this.queue.addAfter(key, waitMs);
        continue;
      }
      this.notBefore.delete(key);
      const started = performance.now();
      try {
        const result = await this.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        // Per sync, for someone asking why (or whether) a key was synced; free at the default level.
        if (this.log.isLevelEnabled('debug')) this.log.debug({ controller: this.name, key, requeueAfterMs: result?.requeueAfterMs }, 'reconciled');
        this.hooks.onReconcile?.(this.name, 'success', (performance.now() - started) / 1000);
      } catch (error) {
        const retryAfterMs = (error as RetryAfter).retryAfterMs ?? 0;
        const delay = this.queue.addRateLimited(key, retryAfterMs);
        this.notBefore.set(key, Date.now() + delay);
        this.log.error({ controller: this.name, key, err: errorMessage(error), retryInMs: delay }, 'reconcile failed; will retry');
        this.hooks.onReconcile?.(this.name, 'error', (performance.now() - started) / 1000);
      } finally {
        this.queue.done(key);
      }
    }
  }
}

/** A message safe to log: the error's message only (never request bodies, which may hold keys). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
