/**
 * Entry of the scheduler core thread: the {@link Scheduler} (both ROUTERs,
 * lanes, batcher, registry) in its own V8 isolate, driven by requests from
 * the process's main thread (core-host.ts), which keeps the admin API,
 * prom-client and the autoscaler.
 *
 * Why a thread: every image the scheduler relays is external memory to V8,
 * and at cluster rates that starts full mark-compacts several times a
 * second (protocol/zmq.ts). Their cost grows with the heap being marked.
 * This isolate loads only the core (protocol, zeromq, msgpackr and the pure
 * cores), so it marks about half the heap the whole process would; metrics
 * are kept as numbers (`MetricsRecorder`) and handed over every tick.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode, YoloscaleError, closeAllSockets } from '../protocol/index.js';
import type { Logger } from '../protocol/index.js';
import type { CoreEvent, CoreRequest, CoreSnapshot, CoreThreadData } from './core-thread-messages.js';
import { LANE_ORDER } from './lanes.js';
import { MetricsRecorder } from './metrics-sink.js';
import type { NodeAction } from './registry.js';
import { Scheduler } from './scheduler.js';

const port = parentPort;
if (!port) throw new Error('core-thread.ts runs as a worker thread of the scheduler process');
const data = workerData as CoreThreadData;

function post(e: CoreEvent): void {
  port?.postMessage(e);
}

/** Log fields that cannot be cloned, as JSON text, or their names where even that fails (a cycle). */
function asText(fields: Record<string, unknown>): string {
  try {
    return String(JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  } catch {
    return `unloggable fields: ${Object.keys(fields).join(', ')}`;
  }
}

/** Log records go to the main thread's logger; values that cannot be cloned are logged as text. */
function forwardingLogger(bindings: Record<string, unknown>): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: object | string, msg?: string): void => {
      const fields = typeof obj === 'string' ? { ...bindings } : { ...bindings, ...(obj as Record<string, unknown>) };
      const text = typeof obj === 'string' ? obj : msg;
      try {
        post({ t: 'log', level, obj: fields, msg: text });
      } catch {
        post({ t: 'log', level, obj: { ...bindings, fields: asText(fields) }, msg: text });
      }
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => forwardingLogger({ ...bindings, ...b }) };
}

const metrics = new MetricsRecorder();
const admitted = new Map<string, number>();
const log = forwardingLogger({});
const scheduler = new Scheduler({
  ...data.scheduler,
  logger: log,
  metrics,
  onAdmit: data.recordAdmits ? (model, cost) => admitted.set(model, (admitted.get(model) ?? 0) + cost) : undefined,
});

function snapshot(): CoreSnapshot {
  const queueDepths = Object.fromEntries(LANE_ORDER.map((l) => [l, scheduler.queueDepth(l)])) as CoreSnapshot['queueDepths'];
  const nodes = scheduler.registry.list().map((n) => ({ id: n.id, type: n.type, state: n.state, inFlight: n.inFlight, slots: n.slots, stateSince: n.stateSince }));
  return { queue: scheduler.queue(), queueDepths, counts: scheduler.registry.counts(), nodes };
}

function tick(): void {
  post({ t: 'tick', metrics: metrics.drain(), admitted: [...admitted], snapshot: snapshot() });
  admitted.clear();
}

async function answer(r: CoreRequest): Promise<unknown> {
  switch (r.op) {
    case 'nodes':
      return scheduler.nodes();
    case 'node':
      return scheduler.node(r.nodeId);
    case 'act':
      return scheduler.act(r.nodeId, r.action as NodeAction);
    case 'queue':
      return scheduler.queue();
    case 'expect':
      scheduler.registry.expect(r.nodeId, r.type, r.nowEpochMs);
      return undefined;
    case 'booting':
      scheduler.registry.booting(r.nodeId, r.nowEpochMs);
      return undefined;
    case 'fail':
      scheduler.registry.fail(r.nodeId, r.nowEpochMs);
      return undefined;
    case 'flush':
      tick();
      return undefined;
    case 'close':
      clearInterval(timer);
      await scheduler.close();
      tick();
      return undefined;
    case 'crash':
      // A drill: the same path as a bug that throws outside any handler.
      setImmediate(() => {
        throw new Error('crash drill requested through SchedulerHost.crash()');
      });
      return undefined;
    default:
      throw new YoloscaleError(ErrorCode.badRequest, `unknown core request ${(r as { op: string }).op}`);
  }
}

let timer: NodeJS.Timeout | undefined;

/**
 * An error nothing caught: the thread says so, closes its ZeroMQ sockets
 * (a worker thread that exits with one open aborts the whole process) and
 * exits with code 1; the host sees the exit and the scheduler stops.
 */
function fatal(err: unknown): void {
  clearInterval(timer);
  try {
    log.error({ err }, 'scheduler core thread failed: closing its sockets and stopping');
  } finally {
    closeAllSockets();
    process.exit(1);
  }
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

port.on('message', (r: CoreRequest) => {
  answer(r).then(
    (value) => {
      post({ t: 'reply', id: r.id, value });
      if (r.op === 'close') port.close();
    },
    (err: unknown) => post({ t: 'reply', id: r.id, error: { code: err instanceof YoloscaleError ? err.code : undefined, message: err instanceof Error ? err.message : String(err) } }),
  );
});

try {
  const endpoints = await scheduler.start(data.workerEndpoint, data.clientEndpoint);
  timer = setInterval(tick, data.tickMs);
  post({ t: 'started', endpoints });
} catch (err) {
  await scheduler.close().catch(() => {});
  post({ t: 'startFailed', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
