import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isYoloscaleError } from '../../protocol/index.js';
import { builtinTrace, parseTraceCsv, runSim, simulate } from '../../scheduler/autoscaler/index.js';

t.test('sim - predictive has at most half the SLO-violation minutes of the HPA at ≤ 1.1× node-hours (surge, diurnal, 3-minute lead)', async (t) => {
  for (const trace of ['surge', 'diurnal']) {
    const out = await runSim({ trace, policy: 'both', leadTimeS: 180 });
    const p = out.predictive!;
    const r = out.reactive!;
    t.ok(r.violationMin > 0, `${trace}: the HPA baseline misses demand while nodes boot (${r.violationMin} min)`);
    t.ok(p.violationMin <= 0.5 * r.violationMin, `${trace}: predictive ${p.violationMin} min ≤ half of reactive ${r.violationMin} min`);
    t.ok(p.nodeHours <= 1.1 * r.nodeHours, `${trace}: predictive ${p.nodeHours} node-h ≤ 1.1 × reactive ${r.nodeHours} node-h`);
    t.ok(p.utilisation > 0.5 && p.utilisation < 1, `${trace}: utilisation ${p.utilisation} is a real fraction`);
  }
});

t.test('sim - with no lead time the HPA has little to miss, and a longer lead time hurts it more', async (t) => {
  const trace = builtinTrace('surge');
  const instant = simulate({ trace, policy: 'reactive', leadTimeS: 0 });
  const slow = simulate({ trace, policy: 'reactive', leadTimeS: 600 });
  const normal = simulate({ trace, policy: 'reactive', leadTimeS: 180 });
  t.ok(instant.violationMin < normal.violationMin, `lead 0: ${instant.violationMin} < lead 180: ${normal.violationMin}`);
  t.ok(slow.violationMin > normal.violationMin, `lead 600: ${slow.violationMin} > lead 180: ${normal.violationMin}`);
});

t.test('sim - the HPA baseline follows ceil(current × metric / target) on a constant load', async (t) => {
  const trace = { name: 'flat', startMs: 0, tokensPerS: Array.from({ length: 120 }, () => 1000) };
  const r = simulate({ trace, policy: 'reactive', nodeTokensPerS: 100, reactiveTargetUtilisation: 0.7 });
  // ceil(1000 / (0.7 × 100)) = 15 pods, every minute.
  t.equal(r.peakNodes, 15);
  t.equal(r.violationMin, 0);
  t.ok(Math.abs(r.nodeHours - 30) < 0.01, `15 nodes for 2 h = 30 node-h (got ${r.nodeHours})`);
  t.ok(Math.abs(r.utilisation - 1000 / 1500) < 1e-9);
});

t.test('sim - built-in traces are deterministic per seed and shaped as named', async (t) => {
  t.same(builtinTrace('surge', 3), builtinTrace('surge', 3));
  t.not(builtinTrace('surge', 3).tokensPerS[5], builtinTrace('surge', 4).tokensPerS[5]);
  const d = builtinTrace('diurnal').tokensPerS;
  t.equal(d.length, 7 * 1440, 'diurnal is 7 days');
  const s = builtinTrace('surge').tokensPerS;
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const ratio = mean(s.slice(600, 660)) / mean(s.slice(540, 600));
  t.ok(ratio > 2.6 && ratio < 3.4, `surge triples at 10:00 (×${ratio.toFixed(2)})`);
  const e = builtinTrace('event').tokensPerS;
  const spike = mean(e.slice(1440 + 1200, 1440 + 1230)) / mean(e.slice(1200, 1230));
  t.ok(spike > 4 && spike < 6, `event is a 5× spike (×${spike.toFixed(2)})`);
  t.throws(() => builtinTrace('nope'), { code: 'bad_request' });
});

t.test('sim - CSV traces: resampled to minutes, bad input refused with the line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const rows = ['timestamp,tokens_per_s'];
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 3 * 24 * 60; i += 5) rows.push(`${new Date(t0 + i * 60_000).toISOString()},${i % 1440 >= 600 && i % 1440 < 720 ? 900 : 300}`);
  const file = join(dir, 'trace.csv');
  await writeFile(file, `${rows.join('\n')}\n`);
  const svgPath = join(dir, 'plot.svg');
  const out = await runSim({ trace: file, policy: 'both', svgPath });
  t.equal(out.trace, 'trace.csv');
  t.equal(out.minutes, 3 * 1440);
  t.ok(out.predictive!.violationMin < out.reactive!.violationMin, 'the recurring surge in the CSV is anticipated from day 2');
  const svg = await readFile(svgPath, 'utf8');
  t.match(svg, /^<svg /);
  t.match(svg, /predictive/);
  t.match(svg, /reactive/);
  t.match(svg, /forecast upper bound/);
  t.equal((svg.match(/<path /g) ?? []).length, 6, 'demand, forecast and ready capacity for each policy');

  const epoch = parseTraceCsv('1700000040,10\n1700000100,20\n1700000160,30\n');
  t.same(epoch.tokensPerS, [10, 20, 30], 'epoch seconds, no header');
  for (const [bad, why] of [
    ['t,v\n2026-01-01T00:00:00Z,abc\n2026-01-01T00:01:00Z,1', /line 2: tokens_per_s/],
    ['2026-01-01T00:01:00Z,1\n2026-01-01T00:00:00Z,1', /line 2: timestamps must increase/],
    ['yesterday,1\ntoday,2', /line 1: bad timestamp/],
    ['2026-01-01T00:00:00Z,1', /at least two rows/],
  ] as const) {
    try {
      parseTraceCsv(bad);
      t.fail('should throw');
    } catch (err) {
      t.ok(isYoloscaleError(err, 'bad_request'));
      t.match((err as Error).message, why);
    }
  }
  await t.rejects(runSim({ trace: join(dir, 'missing.csv') }), { code: 'bad_request' });
});
