// Scavenges paced by received bytes (protocol/zmq.ts `scavengeEveryBytes`,
// protocol/young-gc.ts): counted through V8's own GC performance entries.
import t from 'tap';
import type { Test } from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { DEFAULT_SCAVENGE_MB, FramePipe, collectYoung, scavengePacing } from '../../protocol/index.js';
import { Scheduler } from '../../scheduler/index.js';
import { NodeAgent } from '../../worker/agent/index.js';

/** Counts young-generation collections while `work` runs. */
async function minorGcsDuring(work: () => Promise<void>): Promise<number> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  obs.observe({ entryTypes: ['gc'] });
  await work();
  // Entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return minor;
}

/** Sends `count` frames of `bytes` each from a dealer to a router, waits until all arrived. */
async function pushFrames(t: Test, scavengeEveryBytes: number | undefined, count: number, bytes: number): Promise<number> {
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  const router = new FramePipe({
    type: 'router',
    ...(scavengeEveryBytes ? { scavengeEveryBytes } : {}),
    onFrames: () => {
      if (++got === count) done();
    },
  });
  const dealer = new FramePipe({ type: 'dealer', onFrames: () => {} });
  t.teardown(async () => {
    await dealer.close();
    await router.close();
  });
  dealer.connect(await router.bind('tcp://127.0.0.1:0'));
  const payload = Buffer.alloc(bytes, 7);
  return minorGcsDuring(async () => {
    for (let i = 0; i < count; i++) dealer.sendFrames([payload]);
    await all;
  });
}

t.test('collectYoung runs one young-generation collection', async (t) => {
  const n = await minorGcsDuring(async () => collectYoung());
  t.ok(n >= 1, `minor collections seen: ${n}`);
});

t.test('a pipe with scavengeEveryBytes collects the young generation per that many received bytes', async (t) => {
  // 40 frames of 256 KiB: 10 MiB received, a scavenge due every MiB.
  const paced = await pushFrames(t, 1 << 20, 40, 256 << 10);
  const unpaced = await pushFrames(t, undefined, 40, 256 << 10);
  t.ok(paced >= 10, `paced: ${paced} minor collections for 10 MiB`);
  t.ok(unpaced < paced, `unpaced: ${unpaced} (fewer than paced)`);
});

t.test('scavengeEveryBytes must be a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new FramePipe({ type: 'router', scavengeEveryBytes: bad, onFrames: () => {} }), /options\.scavengeEveryBytes must be a positive integer/);
});

t.test('scavengeEveryMb: default 8 MB, 0 turns pacing off, anything else is refused by the scheduler and the worker agent', async (t) => {
  t.equal(DEFAULT_SCAVENGE_MB, 8);
  t.same(scavengePacing(undefined), { scavengeEveryBytes: 8 * 2 ** 20 });
  t.same(scavengePacing(0.5), { scavengeEveryBytes: 2 ** 19 });
  t.same(scavengePacing(0), {});
  for (const bad of [-1, Number.NaN, Infinity, '8' as unknown as number]) {
    t.throws(() => new Scheduler({ scavengeEveryMb: bad }), /options\.scavengeEveryMb must be a number ≥ 0/);
    t.throws(() => new NodeAgent({ scheduler: 'tcp://127.0.0.1:1', engine: null, echo: true, scavengeEveryMb: bad }), /options\.scavengeEveryMb must be a number ≥ 0/);
  }
});
