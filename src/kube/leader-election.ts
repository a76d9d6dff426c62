// Leader election on a coordination.k8s.io Lease, as client-go does it: the
// leader renews the Lease every retry period; a candidate takes it over once
// it has seen the same record unchanged for a whole lease duration (measured
// on its own clock, so clocks need not agree). Only the leader reconciles.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { core, isAlreadyExists, isConflict, isNotFound, type KubeClient, type KubeObject } from './client.ts';
import { sleep } from './informer.ts';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  kube: KubeClient;
  log: Logger;
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function defaultIdentity(): string {
  return `${process.env.HOSTNAME ?? os.hostname()}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  private readonly options: Required<Omit<LeaderElectionOptions, 'identity'>>;
  private observed: { record: string; at: number } | undefined;
  private leading = false;

  constructor(options: LeaderElectionOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.options = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this process holds the Lease (or the signal aborts: false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.options.log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.identity }, 'waiting to become the leader');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew().catch((error: Error) => {
        this.options.log.warn({ err: error.message }, 'leader election attempt failed');
        return false;
      })) {
        this.leading = true;
        this.options.log.info({ identity: this.identity }, 'became the leader');
        return true;
      }
      await sleep(this.options.retryPeriodMs, signal);
    }
    return false;
  }

  /**
   * Renews until the signal aborts (resolves) or a renewal deadline passes
   * without success (rejects: leadership lost; the caller must stop work).
   */
  async holdLeadership(signal: AbortSignal): Promise<void> {
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.options.retryPeriodMs, signal);
      if (signal.aborted) break;
      const renewed = await this.tryAcquireOrRenew().catch(() => false);
      if (renewed) lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.options.renewDeadlineMs) {
        this.leading = false;
        throw new Error(`lost leadership: the Lease was not renewed for ${this.options.renewDeadlineMs} ms`);
      }
    }
  }

  /** Gives the Lease up so another replica takes over at once (on shutdown). */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const { kube, namespace, name } = this.options;
    const lease = await kube.get<Lease>(core.leases, namespace, name);
    if (lease?.spec?.holderIdentity !== this.identity) return;
    await kube.replace(core.leases, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
    }).catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not release the Lease'));
    this.options.log.info('released the leader Lease');
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, namespace, name, leaseDurationMs } = this.options;
    const now = new Date();
    const lease = await kube.get<Lease>(core.leases, namespace, name);
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await kube.create(core.leases, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        } as Lease);
        return true;
      } catch (error) {
        if (isAlreadyExists(error)) return false;
        throw error;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const record = `${holder}|${lease.spec?.renewTime ?? ''}`;
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const heldByOther = holder !== '' && holder !== this.identity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    if (heldByOther && Date.now() - this.observed.at < durationMs) return false;
    const takingOver = holder !== this.identity;
    try {
      await kube.replace(core.leases, {
        ...lease,
        spec: {
          ...lease.spec,
          ...spec,
          ...(takingOver ? { acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
        },
      });
      return true;
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return false;
      throw error;
    }
  }
}
