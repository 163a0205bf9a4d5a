// The scheduler core in its own thread (scheduler/core-host.ts, core-thread.ts):
// admin requests, metrics and admitted costs handed over to the main thread,
// log records forwarded, registry writes from the autoscaler, and shutdown.
// A real echo worker process and a real client talk to the thread over ZeroMQ.
import t from 'tap';
import { Registry as MetricsRegistry } from 'prom-client';
import { YoloscaleError } from '../../protocol/index.js';
import { MetricsRecorder, SchedulerHost, SchedulerMetrics, applyMetricsDelta } from '../../scheduler/index.js';
import { client, submit } from '../helpers/cluster.js';
import type { SchedulerProc } from '../helpers/processes.js';
import { startWorker, waitFor } from '../helpers/processes.js';
import { captureLogger } from '../helpers/log-capture.js';
import type { LogLine } from '../helpers/log-capture.js';

t.test('metrics recorder - a drained delta replayed into prom-client equals recording there directly', async (t) => {
  const direct = new MetricsRegistry();
  const replayed = new MetricsRegistry();
  const sources = { queueDepth: () => 0, nodeCounts: () => ({ provisioning: 0, booting: 0, ready: 0, cordoned: 0, draining: 0, retired: 0, failed: 0 }) };
  const a = new SchedulerMetrics(direct, sources);
  const b = new SchedulerMetrics(replayed, sources);
  const rec = new MetricsRecorder();
  const now = Date.now() - 2_000;
  for (const sink of [a, rec]) {
    sink.frames.inc({ model: 'echo', outcome: 'ok' }, 5);
    sink.frames.inc({ model: 'echo', outcome: 'ok' });
    sink.frames.inc({ model: 'echo', outcome: 'deadline_exceeded' });
    sink.dropped.inc({ socket: 'clients', reason: 'version' });
    for (const v of [1, 7, 32]) sink.batchSize.observe(v);
    for (const v of [0.002, 0.04]) sink.inferenceSeconds.observe(v);
    sink.queueWaitSeconds.observe(0.3);
    sink.requeued.inc(3);
    sink.tokenRate.add('echo', 4, now);
    sink.tokenRate.add('echo', 6, now + 10);
  }
  const delta = rec.drain();
  t.same([...delta.frames].sort(), [
    ['echo', 'deadline_exceeded', 1],
    ['echo', 'ok', 6],
  ]);
  t.same(delta.tokens, [['echo', 10, Math.floor(now / 1000) * 1000]], 'tokens summed per model and second');
  applyMetricsDelta(b, delta);
  t.equal(await replayed.metrics(), await direct.metrics(), 'same exposition text');
  t.same(rec.drain(), { frames: [], dropped: [], batchSizes: [], inferenceSeconds: [], queueWaitSeconds: [], requeued: 0, tokens: [] }, 'a drain starts afresh');
});

t.test('core thread - frames, admin actions, metrics, admitted costs and logs cross between the threads', async (t) => {
  const lines: LogLine[] = [];
  const metricsRegistry = new MetricsRegistry();
  const ref: { host?: SchedulerHost } = {};
  const metrics = new SchedulerMetrics(metricsRegistry, { queueDepth: (l) => ref.host?.queueDepth(l) ?? 0, nodeCounts: () => ref.host!.counts() });
  const admitted: Array<[string, number]> = [];
  const host = await SchedulerHost.start({
    workerEndpoint: 'tcp://127.0.0.1:0',
    clientEndpoint: 'tcp://127.0.0.1:0',
    scheduler: { maxDelayMs: 2 },
    logger: captureLogger(lines),
    metrics,
    onAdmit: (model, cost) => admitted.push([model, cost]),
    tickMs: 60_000,
  });
  ref.host = host;
  t.teardown(() => host.close());
  t.match(host.endpoints, { workers: /^tcp:\/\/127\.0\.0\.1:\d+$/, clients: /^tcp:\/\/127\.0\.0\.1:\d+$/ });
  t.ok(
    lines.some((l) => l.level === 'info' && l.msg === 'scheduler listening' && l.obj.workers === host.endpoints.workers),
    "the thread's log line reached this thread's logger",
  );

  await startWorker(t, host.endpoints.workers, { nodeId: 'echo-1', slots: 4 });
  await waitFor('the worker registered', async () => (await host.nodes()).find((n) => n.id === 'echo-1')?.state === 'ready');
  const c = await client(t, { clientEndpoint: host.endpoints.clients } as SchedulerProc);
  const results = await Promise.all([submit(c), submit(c), submit(c)]);
  t.same(
    results.map((r) => r.model),
    ['echo', 'echo', 'echo'],
  );

  // Nothing is handed over until a tick (the period here is a minute): flush asks for one.
  t.equal(host.counts().ready, 0, 'the snapshot waits for a tick');
  await host.flush();
  t.equal(host.counts().ready, 1);
  t.same(admitted, [['echo', 3]], 'admitted costs summed per model and tick');
  const text = await metricsRegistry.metrics();
  t.match(text, /yoloscale_frames_total\{model="echo",outcome="ok"\} 3/);
  t.match(text, /yoloscale_inference_seconds_count 3/);
  t.match(text, /yoloscale_nodes\{state="ready"\} 1/);

  t.match(await host.act('echo-1', 'cordon'), { id: 'echo-1', state: 'cordoned' });
  t.match(await host.node('echo-1'), { state: 'cordoned' });
  t.match(await host.queue(), { inFlight: 0, lanes: { realtime: 0, standard: 0 } });
  t.equal(await host.node('ghost'), undefined);
  const missing = await host.act('ghost', 'drain').catch((e: unknown) => e);
  t.ok(missing instanceof YoloscaleError && missing.code === 'not_found', `a refused action keeps its error code (${String(missing)})`);
  t.match(await host.act('echo-1', 'uncordon'), { state: 'ready' });

  // The autoscaler's writes: seen by the next tick, which each write requests.
  host.registry.expect('spare-1', 'cpu-small', Date.now());
  await waitFor('the expected node in the snapshot', () => host.registry.list().find((n) => n.id === 'spare-1'));
  t.match(host.registry.list().find((n) => n.id === 'spare-1'), { type: 'cpu-small', state: 'provisioning' });
  const conflict = await host.act('spare-1', 'cordon').catch((e: unknown) => e);
  t.ok(conflict instanceof YoloscaleError && conflict.code === 'conflict', 'cordoning a provisioning node is a conflict');
  host.registry.fail('spare-1', Date.now());
  await waitFor('the failed node in the snapshot', () => host.registry.list().find((n) => n.id === 'spare-1' && n.state === 'failed'));

  await host.close();
  t.equal(await host.exited, 0, 'the thread ended on its own after close');
  const after = await host.nodes().catch((e: unknown) => e);
  t.ok(after instanceof YoloscaleError && after.code === 'no_capacity', 'requests after close are refused, not left hanging');
  await host.close();
  t.pass('close is idempotent');
});

t.test('core thread - a start that cannot bind fails with the reason and leaves no thread', async (t) => {
  const first = await SchedulerHost.start({ workerEndpoint: 'tcp://127.0.0.1:0', clientEndpoint: 'tcp://127.0.0.1:0', scheduler: {} });
  t.teardown(() => first.close());
  const err = await SchedulerHost.start({ workerEndpoint: first.endpoints.workers, clientEndpoint: 'tcp://127.0.0.1:0', scheduler: {} }).catch((e: unknown) => e);
  t.ok(err instanceof Error && /in use|EADDRINUSE/i.test(err.message), `bind error reported: ${String(err)}`);
});
