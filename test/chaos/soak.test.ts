// The CI form of the soak (issue #8): 30 s of mixed REST and WebSocket
// traffic of four tenants at the cluster's capacity, after 15 s of warm-up.
// Only the non-timing invariants are asserted; the 2-minute run's figures are
// in bench/results/soak.json (`yoloscale bench soak`).
import t from 'tap';
import type { Test } from 'tap';
import { runSoakBench } from '../../bench/soak.js';

t.setTimeout(180_000); // about 60 s alone

t.test('soak - under the planned load nothing fails except 429/503, and memory holds steady', async (t: Test) => {
  const r = await runSoakBench({ minutes: 0.5, warmupS: 15, outFile: null, log: (l) => t.comment(l) });
  t.comment(`fps ${r.fps}, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, errors ${JSON.stringify(r.errors)}, RSS ${r.rssMb.afterWarmup} → ${r.rssMb.end} MiB`);
  t.ok(r.frames > 0, 'frames were answered');
  t.same(
    Object.keys(r.errorsByStatus).filter((s) => s !== '429' && s !== '503'),
    [],
    `errors only with 429 or 503: ${JSON.stringify(r.errors)}`,
  );
  t.ok(r.rssMb.end <= r.rssMb.afterWarmup * 1.1, `memory at the end (${r.rssMb.end} MiB) within 10% of after warm-up (${r.rssMb.afterWarmup} MiB): ${JSON.stringify(r.rssMbByProcess)}`);
});
