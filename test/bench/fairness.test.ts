// `bench fairness`, briefly, through a real scheduler and echo workers: only
// invariants that hold whatever the machine's speed (timings go in the
// bench's JSON, not here).
import t from 'tap';
import { fairShares, jainIndex, quantile, runFairnessBench } from '../../bench/fairness.js';
import { BENCHMARKS } from '../../bench/index.js';
import { ISOLATION_HEADROOM, headroomSlots } from '../../scheduler/lanes.js';
import { client, nodes, submit } from '../helpers/cluster.js';
import { startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('fairness - Jain index and shares against entitlements', async (t) => {
  t.equal(jainIndex([1, 1, 1]), 1, 'equal ratios are perfectly fair');
  t.equal(jainIndex([3, 0, 0]), 1 / 3, 'one taking everything gives 1/n');
  t.ok(Number.isNaN(jainIndex([])));
  const s = fairShares([
    { id: 'a', weight: 1, frames: 100 },
    { id: 'b', weight: 2, frames: 200 },
    { id: 'c', weight: 3, frames: 300 },
  ]);
  t.same(s.tenants.map((x) => [x.share, x.expectedShare]), [[1 / 6, 1 / 6], [2 / 6, 2 / 6], [3 / 6, 3 / 6]]);
  t.equal(s.jain, 1);
  const skewed = fairShares([
    { id: 'a', weight: 1, frames: 200 },
    { id: 'b', weight: 2, frames: 200 },
    { id: 'c', weight: 3, frames: 200 },
  ]);
  t.ok(skewed.jain < 0.9, `equal service despite 1:2:3 weights is unfair (${skewed.jain})`);
  t.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
  t.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
});

t.test('fairness - headroom only while one tenant waits, none on small clusters', async (t) => {
  t.equal(headroomSlots(16, 1), 1);
  t.equal(headroomSlots(16, 0), 1);
  t.equal(headroomSlots(16, 2), 0, 'backlogged tenants share every slot');
  t.equal(headroomSlots(8, 1), 0, 'a cluster under 16 slots keeps none');
  t.equal(headroomSlots(2048, 1), 2048 * ISOLATION_HEADROOM);
});

t.test('fairness - every tenant is served, shares follow the weights, the quiet tenant is answered beside a flooder', async (t) => {
  const r = await runFairnessBench({ workers: 2, slots: 8, echoDelayMs: 20, window: 32, warmupMs: 500, measureMs: 2_000, quietFrames: 20, quietFps: 20, floodWindow: 64, rounds: 1, outFile: null });
  t.equal(r.tenants.length, 3);
  t.same(r.tenants.map((x) => x.weight), [3600, 7200, 10800], 'plan weights 1:2:3');
  t.ok(r.tenants.every((x) => x.frames > 0), `all tenants served: ${r.tenants.map((x) => x.frames).join(', ')}`);
  const [a, b, c] = r.tenants.map((x) => x.frames);
  t.ok(a < b && b < c, `served frames ordered by weight: ${a} < ${b} < ${c}`);
  t.ok(Math.abs(r.tenants.reduce((s, x) => s + x.share, 0) - 1) < 0.01, 'shares add up to 1');
  t.ok(r.jain > 0.9 && r.jain <= 1, `Jain's index ${r.jain}`);
  t.equal(r.errors, 0, 'no frame failed');
  t.ok(r.isolation.floodFrames > 0, 'the flooder was served');
  t.ok(r.isolation.soloP99Ms > 0 && r.isolation.contendedP99Ms > 0, 'the quiet tenant was answered alone and beside the flooder');
  t.ok(BENCHMARKS.some((x) => x.name === 'fairness'), 'registered as `bench fairness`');
});

t.test('fairness - a lone flooder leaves one of 16 slots free, and another tenant’s frame takes it at once', async (t) => {
  const s = await startScheduler(t, { maxDelayMs: 2 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'w1', slots: 8, echoDelayMs: 1_500 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'w2', slots: 8, echoDelayMs: 1_500 });
  const c = await client(t, s);
  await waitFor('two workers', () => c.ready().workers === 2);
  const inFlight = async () => (await nodes(s)).reduce((n, x) => n + x.inFlight, 0);
  let floodDone = 0;
  const flood = Array.from({ length: 40 }, () => submit(c, { tenant: 'flooder' }).then((r) => (floodDone++, r)));
  await waitFor('the flooder fills the cluster but one slot', async () => (await inFlight()) === 15);
  const quiet = submit(c, { tenant: 'quiet' });
  await waitFor('the quiet frame is in flight at once', async () => (await inFlight()) === 16);
  t.equal((await quiet).model, 'echo', 'the quiet tenant is served');
  t.ok(floodDone <= 15, `before any flooded frame that was still waiting (${floodDone} flooded frames done)`);
  t.equal((await Promise.all(flood)).length, 40, 'and so is every flooded frame');
});
