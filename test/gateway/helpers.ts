/**
 * Fixtures of the gateway tests: a backend that really detects (the worker
 * engine in this process, standing in for scheduler + worker), a real SQLite
 * ledger with a tenant and key, and the app built over them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { Engine } from '../../worker/engine/engine.js';
import { SqliteLedger } from '../../ledger/index.js';
import type { Ledger } from '../../ledger/index.js';
import { buildApp } from '../../gateway/index.js';
import type { BackendFrame, BackendModelInfo, DetectionBackend, GatewayLimits } from '../../gateway/index.js';
import { MODELS_DIR, VIDEO_DIR } from '../helpers/env.js';

/** Minimal view of tap's `t` the fixtures need. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * The in-process backend: frames go straight to a real {@link Engine}. It
 * keeps the scheduler's deadline rule (a frame past its deadline is not run).
 */
export class EngineBackend implements DetectionBackend {
  readonly engine: Engine;
  submitted: BackendFrame[] = [];
  constructor(engine: Engine) {
    this.engine = engine;
  }
  async submit(frame: BackendFrame): Promise<DetectionResult> {
    this.submitted.push({ ...frame, image: new Uint8Array(0) });
    if (Date.now() > frame.deadlineMs) throw new YoloscaleError(ErrorCode.deadlineExceeded, 'frame missed its deadline');
    return this.engine.detect(frame.image, frame.model, frame.params);
  }
  ready() {
    return { scheduler: true, workers: 1 };
  }
  models(): BackendModelInfo[] {
    return this.engine.models().map((m) => ({
      id: m.id,
      tokensPerFrame: m.tokensPerFrame,
      inputSize: m.inputSize,
      family: m.family,
      classNames: m.classNames,
    }));
  }
}

/** One engine per test file (loading models is the slow part). */
export async function sharedEngine(t: Teardown, models = ['yolox-nano']): Promise<Engine> {
  const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, models });
  t.teardown(() => engine.close());
  return engine;
}

/** A fresh SQLite ledger in a temp dir with one tenant and key. */
export async function ledgerWithTenant(
  t: Teardown,
  opts: { plan?: string; tokensPerHour?: number; overflow?: 'reject' | 'best-effort'; models?: string[] | null; now?: () => number } = {},
): Promise<{ ledger: Ledger; tenantId: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ys-gw-ledger-'));
  const ledger = SqliteLedger.open({ path: join(dir, 'ledger.db'), ...(opts.now ? { now: opts.now } : {}) });
  t.teardown(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let plan = opts.plan ?? 'starter';
  if (opts.tokensPerHour !== undefined || opts.overflow !== undefined || opts.models !== undefined) {
    plan = `test-${Math.random().toString(36).slice(2, 8)}`;
    await ledger.putPlan(plan, {
      tokensPerHour: opts.tokensPerHour ?? 108_000,
      overflow: opts.overflow ?? 'reject',
      models: opts.models ?? null,
    });
  }
  const tenant = await ledger.createTenant({ name: 'acme', plan });
  const { key } = await ledger.createApiKey(tenant.id);
  return { ledger, tenantId: tenant.id, key };
}

/** The app over a backend and ledger, closed at teardown. */
export async function gatewayApp(
  t: Teardown,
  backend: DetectionBackend,
  ledger: Ledger,
  limits?: GatewayLimits,
): Promise<{ app: FastifyInstance; registry: Registry }> {
  const registry = new Registry();
  const app = await buildApp({ backend, ledger, registry, ...(limits ? { limits } : {}) });
  t.teardown(() => app.close());
  return { app, registry };
}

/** Listens on a free port; returns the base URL (http://127.0.0.1:PORT). */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  if (!a || typeof a !== 'object') throw new Error('no address');
  return `http://127.0.0.1:${a.port}`;
}

/**
 * Real video frames as JPEGs (ffmpeg from the shared person clip), cached per
 * process in a temp dir removed at teardown.
 */
export function videoFrames(t: Teardown, count: number, opts: { startS?: number; width?: number } = {}): Buffer[] {
  const dir = mkdtempSync(join(tmpdir(), 'ys-gw-frames-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const width = opts.width ?? 640;
  execFileSync(
    'ffmpeg',
    ['-v', 'error', '-ss', String(opts.startS ?? 25), '-i', join(VIDEO_DIR, 'one-by-one-person-detection.mp4'),
      '-frames:v', String(count), '-vf', `scale=${width}:-2`, '-q:v', '5', join(dir, 'f%04d.jpg')],
    { stdio: 'ignore' },
  );
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}

/** Sum of charged minus refunded tokens of a tenant's usage (all hours, all models). */
export async function netCharged(ledger: Ledger, tenantId: string): Promise<{ charged: number; refunded: number; net: number }> {
  const u = await ledger.usage(tenantId);
  const charged = u.hourly.reduce((s, b) => s + b.tokens, 0);
  const refunded = u.hourly.reduce((s, b) => s + b.refunded, 0);
  return { charged, refunded, net: charged - refunded };
}
