import t from 'tap';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { openLedger } from '../../ledger/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { runGateway } from '../../gateway/index.js';
import { MODELS_DIR, REPO_ROOT, image } from '../helpers/env.js';
import { netCharged, sharedEngine, videoFrames } from './helpers.js';
import type { Teardown } from './helpers.js';
import { connect } from './ws-client.js';

// Real models on a shared 2-core machine: allow for a loaded host (typical run well under a minute).
t.setTimeout(300_000);

/** Starts `node --import tsx FILE ARGS…` and resolves with the first JSON line it prints. */
async function startProc(t: Teardown, file: string, args: string[] = []): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'gateway', 'fixtures', file), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, YOLOSCALE_LOG_LEVEL: 'warn' },
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          r(undefined);
        }, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          r(undefined);
        });
      });
    }
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<Record<string, string>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, string>));
  });
  return { child, info };
}

t.test('gateway cluster - gateway → real scheduler process → real worker process', async (t) => {
  const bus = readFileSync(image('bus.jpg'));
  const engine = await sharedEngine(t);
  const local = await engine.detect(bus, 'yolox-nano', {});

  const scheduler = await startProc(t, 'scheduler-proc.ts');
  await startProc(t, 'worker-proc.ts', [scheduler.info.workers, MODELS_DIR]);

  const dataDir = mkdtempSync(join(tmpdir(), 'ys-gw-cluster-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const ledger = await openLedger({ dataDir });
  t.teardown(() => ledger.close());
  const tenant = await ledger.createTenant({ name: 'cluster', plan: 'starter' });
  const { key } = await ledger.createApiKey(tenant.id);

  // The gateway opens its own connection to the same SQLite ledger, as `yoloscale gateway` does.
  const gw = await runGateway({ port: 0, host: '127.0.0.1', dataDir, schedulerEndpoint: scheduler.info.clients, logger: pino({ level: 'silent' }) });
  t.teardown(() => gw.close());

  let ready = await fetch(`${gw.url}/readyz`);
  for (let i = 0; i < 150 && ready.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    ready = await fetch(`${gw.url}/readyz`);
  }
  t.equal(ready.status, 200, 'ready once the scheduler answers and the worker registered');
  t.match(await ready.json(), { status: 'ready', scheduler: true, workers: 1 });

  const models = (await (await fetch(`${gw.url}/v1/models`)).json()) as { models: Array<{ id: string }> };
  t.ok(models.models.some((m) => m.id === 'yolox-nano'), 'the cluster offers the worker’s model');

  const res = await fetch(`${gw.url}/v1/detect?model=yolox-nano`, { method: 'POST', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, body: bus });
  t.equal(res.status, 200);
  const result = (await res.json()) as DetectionResult;
  t.same(result.detections, local.detections, 'same detections as the local engine');
  t.same(result.tokens, { charged: 1, remaining: 108_000 - 1, lane: 'standard' });

  const bad = await fetch(`${gw.url}/v1/detect`, { method: 'POST', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, body: bus.subarray(0, 5000) });
  t.equal(bad.status, 400, 'a truncated JPEG fails at the worker');
  t.equal(((await bad.json()) as { error: { code: string } }).error.code, 'bad_image');

  const frames = videoFrames(t, 30, { startS: 26 });
  const ticket = ((await (await fetch(`${gw.url}/v1/stream-tickets`, { method: 'POST', headers: { 'x-auth-token': key } })).json()) as { ticket: string }).ticket;
  const c = await connect(`${gw.url.replace('http', 'ws')}/v1/stream?ticket=${ticket}&model=yolox-nano`);
  for (const f of frames) {
    c.ws.send(f);
    await new Promise((r) => setTimeout(r, 33));
  }
  await c.until((m) => m.filter((x) => x.frame !== undefined).length >= frames.length, 20_000);
  const perFrame = c.messages.filter((m) => m.frame !== undefined);
  t.same(perFrame.map((m) => m.frame), Array.from({ length: 30 }, (_, i) => i + 1), 'every streamed frame answered once, in order');
  const results = perFrame.filter((m) => m.type === 'detections');
  t.ok(results.length > 0, `results through the cluster (${results.length}, ${perFrame.length - results.length} dropped)`);
  t.ok(results.some((m) => (m.detections as Array<{ class: string }>).some((d) => d.class === 'person')), 'people found in the video');
  c.ws.close();
  await c.closed;
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await netCharged(ledger, tenant.id)).net, 1 + results.length, 'charged − refunded = REST result + stream results');
});
