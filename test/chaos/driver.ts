/**
 * The chaos driver (issue #8, SPEC.md §11 `chaos`): a real cluster (scheduler,
 * echo workers, gateway, a real `redis-server` as ledger) under REST and
 * WebSocket traffic of several tenants, while faults hit it in rotation:
 *
 * - `worker-sigkill`: SIGKILL of a worker with batches in flight, then a new worker;
 * - `worker-hang`: SIGSTOP of a worker (socket open, no heartbeats) past the
 *   3 s dead line, then SIGCONT;
 * - `slow-worker`: a worker whose batches take longer than a stream deadline
 *   joins for a while, then drains away;
 * - `scheduler-restart`: SIGKILL of the scheduler and a new one on the same
 *   ports (gateway and workers reconnect);
 * - `redis-restart`: SIGKILL of Redis while the workers stall (frames charged
 *   before the outage time out during it), 4 s without a ledger, a restart on
 *   the same data;
 * - `gateway-restart`: SIGTERM of the gateway with streams open and a new one
 *   on the same port (clients reconnect, REST retries keep their key).
 *
 * Then every charge the ledger holds is matched against what the clients
 * received: `lost` = charged frames neither answered nor refunded,
 * `doubleCharged` = requests charged more than once, `reconciled` = for every
 * tenant charged − refunded equals the tokens of the frames delivered, and the
 * usage report and balances agree with the per-frame charges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openLedger } from '../../ledger/index.js';
import type { Ledger } from '../../ledger/index.js';
import { BenchCluster } from '../../bench/cluster.js';
import { LoadTally, restLoop, rssMb, streamLoop, waitGatewayReady } from '../../bench/load.js';
import type { LoadClient } from '../../bench/load.js';
import type { BenchProc } from '../../bench/processes.js';
import { PHOTO } from '../helpers/cluster.js';
import { startRedis } from '../helpers/redis.js';
import type { TestRedis } from '../helpers/redis.js';

/** The faults, in the order they are injected. */
export const FAULTS = Object.freeze(['worker-sigkill', 'worker-hang', 'slow-worker', 'scheduler-restart', 'redis-restart', 'gateway-restart'] as const);
export type FaultName = (typeof FAULTS)[number];

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** Keep injecting faults (whole rotations) until this much time passed; at least one rotation runs. */
  durationMs?: number;
  /** Faults of one rotation (default {@link FAULTS}, in that order). */
  faults?: readonly FaultName[];
  /** Tenants sending traffic (default 3). */
  tenants?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Ledger-side figures of one tenant. */
export interface TenantReconciliation {
  tenantId: string;
  /** Tokens charged and refunded, from the per-frame charge records. */
  charged: number;
  refunded: number;
  /** Tokens of the frames the clients received (REST 200s and stream detections). */
  delivered: number;
  /** Charged − refunded from the usage report (must equal the records). */
  usageNet: number;
  /** Drop of the balance over the run (checked when the run stayed in one UTC hour). */
  balanceDrop: number | null;
}

/** Resident memory of one long-lived process across the faults, MiB. */
export interface MemoryTrace {
  role: string;
  pid: number;
  samples: number[];
}

/** `bench/results/chaos.json`. */
export interface ChaosResult {
  minutes: number;
  /** Faults injected. */
  faults: number;
  /** Frames the ledger accepted (charged). */
  frames: number;
  lost: number;
  doubleCharged: number;
  reconciled: boolean;
  /** Frames delivered and also refunded (never both). */
  answeredAndRefunded: number;
  faultsByKind: Record<string, number>;
  /** Every fault: when it began (s into the run), how long it took, frames the victim held (worker faults). */
  faultLog: Array<{ fault: FaultName; atS: number; tookS: number; inFlight?: number }>;
  /** Frames answered to clients (REST 200 + stream detections), dropped stream frames. */
  answered: number;
  dropped: number;
  /** Client-side errors by code (each REST attempt, stream error message or refusing close). */
  errors: Record<string, number>;
  tenants: TenantReconciliation[];
  /** What did not match, frame by frame where the ids allow (at most 50 lines). */
  mismatches: string[];
  memory: MemoryTrace[];
  /** Per role, the process that lived through the most faults: its first and last sample and its peak, MiB. */
  rssMb: Record<string, { pid: number; faultsLived: number; first: number; last: number; max: number }>;
  cpuCores: number;
  node: string;
  date: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Charge {
  frameId: string;
  charged: number;
  refunded: boolean;
  idem: string;
}

/** Every charge record of a tenant, straight from Redis (`ys:t:ID:charge:FRAME`). */
async function chargesOf(redis: Redis, tenantId: string): Promise<Charge[]> {
  const prefix = `ys:t:${tenantId}:charge:`;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const out: Charge[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const pipe = redis.pipeline();
    for (const k of keys.slice(i, i + 500)) pipe.hgetall(k);
    const rows = (await pipe.exec()) ?? [];
    rows.forEach(([err, h], j) => {
      if (err) throw err;
      const row = h as Record<string, string>;
      out.push({ frameId: keys[i + j]!.slice(prefix.length), charged: Number(row.charged ?? 0), refunded: row.refunded === '1', idem: row.idem ?? '' });
    });
  }
  return out;
}

/** Fault injection over a running cluster. */
class Injector {
  constructor(
    readonly cluster: BenchCluster,
    readonly redis: TestRedis,
  ) {}

  /** A worker with frames in flight (as the scheduler sees it), and how many; waits up to 5 s for one. */
  async busyWorker(): Promise<{ worker: BenchProc; inFlight: number }> {
    const c = this.cluster;
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      const res = await fetch(`${String(c.scheduler.info.adminUrl)}/v1/nodes`, { headers: { authorization: 'Bearer bench-admin-token' } });
      const { nodes } = (await res.json()) as { nodes: Array<{ id: string; inFlight: number }> };
      for (const n of nodes) {
        const worker = c.workers.find((w) => w.info.nodeId === n.id);
        if (worker && n.inFlight > 0) return { worker, inFlight: n.inFlight };
      }
      await sleep(10);
    }
    return { worker: c.workers[0]!, inFlight: 0 };
  }

  /** Injects one fault and returns once it is over; the answer says how many frames the victim held. */
  async inject(fault: FaultName): Promise<{ inFlight?: number }> {
    const c = this.cluster;
    switch (fault) {
      case 'worker-sigkill': {
        const { worker, inFlight } = await this.busyWorker();
        await c.removeWorker(worker, 'SIGKILL');
        await c.addWorker();
        return { inFlight };
      }
      case 'worker-hang': {
        const { worker: w, inFlight } = await this.busyWorker();
        w.child.kill('SIGSTOP');
        await sleep(4_500); // past the scheduler's 3 s dead line
        w.child.kill('SIGCONT');
        return { inFlight };
      }
      case 'slow-worker': {
        const slow = await c.addWorker(1_500); // slower than a stream frame's 1 s deadline
        await sleep(5_000);
        await c.removeWorker(slow, 'SIGTERM');
        return {};
      }
      case 'scheduler-restart':
        await c.restartScheduler();
        return {};
      case 'redis-restart': {
        // Workers stall just as Redis dies, so frames charged before the outage time out during it:
        // their refunds must wait for Redis to come back.
        const stalled = [...c.workers];
        for (const w of stalled) w.child.kill('SIGSTOP');
        await sleep(300);
        await this.redis.kill();
        await sleep(1_500); // past a stream frame's 1 s deadline, within the 3 s dead line
        for (const w of stalled) w.child.kill('SIGCONT');
        await sleep(2_500);
        await this.redis.restart();
        return {};
      }
      case 'gateway-restart':
        await c.restartGateway();
        return {};
    }
  }
}

/** Matches the ledger's charges with what the clients received. */
async function reconcile(
  ledger: Ledger,
  redis: Redis,
  tally: LoadTally,
  tenants: Array<{ tenantId: string; startRemaining: number; startHour: number }>,
): Promise<Pick<ChaosResult, 'frames' | 'lost' | 'doubleCharged' | 'reconciled' | 'answeredAndRefunded' | 'tenants' | 'mismatches'>> {
  let frames = 0;
  let lost = 0;
  let doubleCharged = 0;
  let answeredAndRefunded = 0;
  let reconciled = true;
  const out: TenantReconciliation[] = [];
  const detail: string[] = [];
  for (const t of tenants) {
    const charges = await chargesOf(redis, t.tenantId);
    const live = (c: Charge) => c.charged > 0 && !c.refunded;
    let charged = 0;
    let refunded = 0;
    const netByIdem = new Map<string, number>();
    let streamLive = 0;
    for (const c of charges) {
      if (c.charged > 0) frames++;
      charged += c.charged;
      if (c.refunded) refunded += c.charged;
      if (!live(c)) continue;
      if (c.frameId.startsWith('r-')) netByIdem.set(c.idem, (netByIdem.get(c.idem) ?? 0) + 1);
      else streamLive++;
    }
    // REST: one logical request per idempotency key, matched frame by frame.
    let delivered = 0;
    const seen = new Set<string>();
    for (const rec of tally.rest.values()) {
      if (rec.tenantId !== t.tenantId) continue;
      seen.add(rec.idempotencyKey);
      const net = netByIdem.get(rec.idempotencyKey) ?? 0;
      const answered = rec.status === 200;
      if (answered) delivered += rec.charged ?? 0;
      if (net > 1) doubleCharged += net - 1;
      if (net >= 1 && !answered) {
        lost++;
        detail.push(`REST ${rec.idempotencyKey}: charged ${net}×, client saw ${rec.status} ${rec.code ?? ''} after ${rec.attempts} attempts`);
      }
      if (net === 0 && answered && (rec.charged ?? 0) > 0) answeredAndRefunded++;
    }
    for (const [idem, net] of netByIdem) {
      if (seen.has(idem)) continue;
      lost += net; // charged for a request no client made
      detail.push(`REST ${idem}: charged ${net}× for a request no client made`);
    }
    // Streams: frame ids are the gateway's, so match per tenant in total.
    const stream = tally.streamDelivered.get(t.tenantId) ?? { frames: 0, tokens: 0 };
    delivered += stream.tokens;
    if (streamLive > stream.frames) {
      lost += streamLive - stream.frames;
      detail.push(`streams of ${t.tenantId}: ${streamLive} frames charged and not refunded, ${stream.frames} answered`);
    }
    if (stream.frames > streamLive) answeredAndRefunded += stream.frames - streamLive;

    const usage = await ledger.usage(t.tenantId);
    const usageNet = usage.hourly.reduce((s, b) => s + b.tokens - b.refunded, 0);
    const bal = await ledger.balance(t.tenantId);
    const sameHour = Math.floor(Date.now() / 3_600_000) === t.startHour;
    const balanceDrop = sameHour ? t.startRemaining - bal.remaining : null;
    const net = charged - refunded;
    if (net !== delivered || usageNet !== net || (balanceDrop !== null && balanceDrop !== net)) reconciled = false;
    out.push({ tenantId: t.tenantId, charged, refunded, delivered, usageNet, balanceDrop });
  }
  return { frames, lost, doubleCharged, reconciled: reconciled && lost === 0 && doubleCharged === 0 && answeredAndRefunded === 0, answeredAndRefunded, tenants: out, mismatches: detail.slice(0, 50) };
}

function longestLived(traces: MemoryTrace[]): ChaosResult['rssMb'] {
  const out: ChaosResult['rssMb'] = {};
  for (const m of traces) {
    const best = out[m.role];
    if (best && best.faultsLived >= m.samples.length - 1) continue;
    out[m.role] = { pid: m.pid, faultsLived: m.samples.length - 1, first: m.samples[0]!, last: m.samples.at(-1)!, max: Math.max(...m.samples) };
  }
  return out;
}

/** Runs the chaos suite once; see the module comment. Cleans up every process it started. */
export async function runChaos(opts: ChaosOptions = {}): Promise<ChaosResult> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const durationMs = opts.durationMs ?? 0;
  const dataDir = mkdtempSync(join(tmpdir(), 'ys-chaos-'));
  const redisServer = await startRedis();
  let cluster: BenchCluster | null = null;
  let ledger: Ledger | null = null;
  const redis = new Redis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const clients: LoadClient[] = [];
  try {
    const nTenants = opts.tenants ?? 3;
    cluster = await BenchCluster.start({
      workers: 2,
      echoDelayMs: 20,
      slots: 8,
      redisUrl: redisServer.url,
      tenants: Array.from({ length: nTenants }, (_, i) => ({ name: `chaos-${i}`, plan: 'pro', topup: 1_000_000 })),
    });
    const c = cluster;
    ledger = await openLedger({ dataDir, redisUrl: redisServer.url });
    const tenants = await Promise.all(
      c.keys.map(async (k) => ({ tenantId: k.tenantId, startRemaining: (await ledger!.balance(k.tenantId)).remaining, startHour: Math.floor(Date.now() / 3_600_000) })),
    );
    log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${c.workers.length} workers, ${nTenants} tenants`);

    const tally = new LoadTally();
    const runId = Date.now().toString(36);
    const url = () => c.url;
    c.keys.forEach((tenant, i) => {
      clients.push(restLoop({ url, tenant, image: PHOTO, tally, concurrency: 2, pauseMs: 10, keyPrefix: `chaos-${runId}-${i}` }));
      clients.push(streamLoop({ url, tenant, image: PHOTO, tally, fps: 20 }));
    });

    const memory = new Map<number, MemoryTrace>();
    const sampleMemory = () => {
      const p = c.pids();
      for (const [role, pid] of [['scheduler', p.scheduler], ['gateway', p.gateway], ['driver', process.pid], ...p.workers.map((w) => ['worker', w] as const)] as const) {
        const mb = rssMb(pid);
        if (mb === null) continue;
        const tr = memory.get(pid) ?? { role, pid, samples: [] };
        tr.samples.push(mb);
        memory.set(pid, tr);
      }
    };

    await sleep(3_000);
    sampleMemory();
    const injector = new Injector(c, redisServer);
    const faultsByKind: Record<string, number> = {};
    const faultLog: ChaosResult['faultLog'] = [];
    let faults = 0;
    do {
      for (const fault of opts.faults ?? FAULTS) {
        const at = Date.now();
        const { inFlight } = await injector.inject(fault);
        await waitGatewayReady(c.url, 60_000);
        faultLog.push({ fault, atS: Math.round((at - started) / 100) / 10, tookS: Math.round((Date.now() - at) / 100) / 10, ...(inFlight !== undefined ? { inFlight } : {}) });
        faults++;
        faultsByKind[fault] = (faultsByKind[fault] ?? 0) + 1;
        log(`fault ${faults} ${fault}: ${((Date.now() - at) / 1000).toFixed(1)} s${inFlight !== undefined ? ` (victim held ${inFlight} frames)` : ''}, ${tally.answered} frames answered so far`);
        await sleep(2_000);
        sampleMemory();
      }
    } while (Date.now() - started < durationMs);

    log('stopping traffic');
    await Promise.all(clients.splice(0).map((cl) => cl.stop()));
    // Refunds of frames that ended with the traffic may still be on their way: wait for the ledger to settle.
    await redis.connect();
    let last = '';
    for (let i = 0; i < 30; i++) {
      await sleep(1_000);
      const snap = JSON.stringify(await Promise.all(tenants.map(async (t) => (await chargesOf(redis, t.tenantId)).filter((x) => x.refunded).length)));
      if (snap === last) break;
      last = snap;
    }
    const rec = await reconcile(ledger, redis, tally, tenants);
    const result: ChaosResult = {
      minutes: Math.round(((Date.now() - started) / 60_000) * 100) / 100,
      faults,
      ...rec,
      faultsByKind,
      faultLog,
      answered: tally.answered,
      dropped: tally.dropped,
      errors: tally.errors,
      memory: [...memory.values()].filter((m) => m.samples.length >= 2),
      rssMb: longestLived([...memory.values()]),
      cpuCores: availableParallelism(),
      node: process.version,
      date: new Date().toISOString(),
    };
    return result;
  } finally {
    await Promise.all(clients.map((cl) => cl.stop(0)));
    redis.disconnect();
    await ledger?.close().catch(() => {});
    await cluster?.stop();
    await redisServer.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
