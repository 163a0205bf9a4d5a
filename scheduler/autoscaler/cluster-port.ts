import { silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import type { ClusterNode, ClusterPort } from './reconciler.js';

/**
 * Adapts the scheduler (its node registry and admin actions) to the
 * {@link ClusterPort} the {@link Autoscaler} needs. Typed structurally, so
 * the autoscaler does not import the scheduler's modules: anything with a
 * `registry` and `act`/`queue` of these shapes fits, the `Scheduler` class
 * included. Admin actions that the state machine refuses (a node that went
 * away meanwhile) are logged, never thrown into the reconcile loop.
 */

/** The registry calls the port uses. */
export interface RegistryLike {
  list(): readonly (Omit<ClusterNode, 'stateSinceMs'> & { stateSince?: number })[];
  expect(id: string, type: string | null, nowEpochMs: number): unknown;
  booting(id: string, nowEpochMs: number): void;
  fail(id: string, nowEpochMs: number): unknown;
}

/** The scheduler calls the port uses (`Scheduler` fits). */
export interface SchedulerLike {
  readonly registry: RegistryLike;
  /** Admin action; tells the node's agent to drain or stop. May throw (or reject) for refused transitions. */
  act(id: string, action: 'drain' | 'retire'): unknown;
  /** Queue depths in frames. */
  queue(): { lanes: Record<string, number>; retry: number; batching: number };
}

/** Options of {@link schedulerClusterPort}. */
export interface SchedulerClusterPortOptions {
  /** Average tokens per queued frame, to turn queue depth into tokens (default 1). */
  tokensPerFrame?: number;
  /** Clock (epoch ms). */
  now?: () => number;
  logger?: Logger;
}

/** Builds the autoscaler's view of a scheduler. */
export function schedulerClusterPort(scheduler: SchedulerLike, opts: SchedulerClusterPortOptions = {}): ClusterPort {
  const now = opts.now ?? Date.now;
  const perFrame = opts.tokensPerFrame ?? 1;
  if (!Number.isFinite(perFrame) || perFrame <= 0) throw new RangeError('options.tokensPerFrame must be a positive number');
  const log = (opts.logger ?? silentLogger).child({ component: 'autoscaler' });
  const refused = (id: string, action: string) => (err: unknown) => log.warn({ node: id, action, err: (err as Error).message }, `autoscaler could not ${action} node ${id}`);
  const act = (id: string, action: 'drain' | 'retire'): void => {
    try {
      // A scheduler core in its own thread answers later.
      const done = scheduler.act(id, action);
      if (done instanceof Promise) done.catch(refused(id, action));
    } catch (err) {
      refused(id, action)(err);
    }
  };
  return {
    nodes: () =>
      scheduler.registry.list().map((n) => ({ id: n.id, type: n.type, state: n.state, inFlight: n.inFlight, slots: n.slots, stateSinceMs: n.stateSince })),
    queueTokens: () => {
      const q = scheduler.queue();
      const frames = Object.values(q.lanes).reduce((a, b) => a + b, 0) + q.retry + q.batching;
      return frames * perFrame;
    },
    expect: (id, type) => void scheduler.registry.expect(id, type, now()),
    booting: (id) => scheduler.registry.booting(id, now()),
    fail: (id) => void scheduler.registry.fail(id, now()),
    drain: (id) => act(id, 'drain'),
    retire: (id) => act(id, 'retire'),
  };
}
