// V8's background threads to SCHED_IDLE: the decision, which threads are V8's, and a real process whose compile jobs run idle while its libuv pool keeps the normal class.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHED_IDLE, SCHED_OTHER, idleV8ThreadsWanted, v8BackgroundThreads, v8PoolSize } from '../../protocol/thread-sched.js';
import type { IdleV8Report } from '../../protocol/thread-sched.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PROBE = resolve(REPO_ROOT, 'test/helpers/thread-sched-probe.ts');

t.test('thread sched - when', async (t) => {
  const gc1 = ['--single-threaded-gc'];
  t.equal(idleV8ThreadsWanted({}, 2, gc1, 'linux'), true, '2 cores, single-threaded GC');
  t.equal(idleV8ThreadsWanted({}, 4, gc1, 'linux'), true, '4 cores');
  t.equal(idleV8ThreadsWanted({}, 2, [], 'linux'), false, 'parallel GC: V8’s threads do collection work the main thread waits for');
  t.equal(idleV8ThreadsWanted({ NODE_OPTIONS: '--max-old-space-size=512 --single-threaded-gc' }, 2, [], 'linux'), true, 'the flag from NODE_OPTIONS counts');
  t.equal(idleV8ThreadsWanted({}, 8, gc1, 'linux'), false, '8 cores: Linux defaults');
  t.equal(idleV8ThreadsWanted({ YOLOSCALE_THREAD_SCHED: '1' }, 8, gc1, 'linux'), true, 'forced on');
  t.equal(idleV8ThreadsWanted({ YOLOSCALE_THREAD_SCHED: '0' }, 2, gc1, 'linux'), false, 'opted out');
  t.equal(idleV8ThreadsWanted({}, 2, gc1, 'darwin'), false, 'Linux only');
  t.equal(v8PoolSize([], {}), 4, 'Node’s default pool');
  t.equal(v8PoolSize(['--v8-pool-size=2'], {}), 2);
  t.equal(v8PoolSize(['--v8-pool-size', '6'], {}), 6);
  t.equal(v8PoolSize([], { NODE_OPTIONS: '--v8-pool-size=1' }), 1);
  t.match(readFileSync(resolve(REPO_ROOT, 'cli/entry.ts'), 'utf8'), /^idleV8BackgroundThreads\(\);\s+main\(/m, 'the command does it before running');
});

t.test('thread sched - V8’s background threads are the first ones after the main thread', async (t) => {
  t.same(v8BackgroundThreads([100, 101, 102, 103, 104, 105, 106, 110, 111], 100, 4), [101, 102, 103, 104, 105], 'the delayed-task thread and four workers');
  t.same(v8BackgroundThreads([100, 111, 110, 102, 103, 104, 105, 107], 100, 4), [102, 103, 104, 105, 107], 'gaps (ids taken by other processes) and any order');
  t.same(v8BackgroundThreads([100, 101, 102, 103, 5, 6], 100, 2), null, 'ids wrapped around: nothing is changed');
  t.same(v8BackgroundThreads([100, 101, 102], 100, 4), null, 'fewer threads than V8 starts');
});

interface ProbeThread {
  tid: number;
  policy: number;
  compileMs: number;
  poolMs: number;
}

function probe(nodeArgs: string[], env: Record<string, string>): { pid: number; report: IdleV8Report; threads: ProbeThread[] } {
  const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', PROBE], { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed (${String(r.status ?? r.signal)}): ${r.stderr.slice(-1000)}`);
  return JSON.parse(r.stdout) as { pid: number; report: IdleV8Report; threads: ProbeThread[] };
}

const linux = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');

t.test('thread sched - a real process: compile jobs run idle, the libuv pool does not', { skip: linux ? false : 'sched_setattr and /proc are Linux (x64, arm64) only' }, async (t) => {
  const { pid, report, threads } = probe(['--single-threaded-gc'], { YOLOSCALE_THREAD_SCHED: '1' });
  const idle = threads.filter((x) => x.policy === SCHED_IDLE);
  const others = threads.filter((x) => x.tid !== pid && x.policy !== SCHED_IDLE);
  const sum = (xs: ProbeThread[], k: 'compileMs' | 'poolMs') => xs.reduce((s, x) => s + x[k], 0);
  t.equal(report.skipped, undefined);
  t.same(idle.map((x) => x.tid), [...report.tids].sort((a, b) => a - b), 'the threads it reports are SCHED_IDLE, and only those');
  t.equal(idle.length, 5, 'the delayed-task thread and the 4 platform workers');
  t.equal(threads.find((x) => x.tid === pid)?.policy, SCHED_OTHER, 'the main thread keeps the normal class');
  // Where the work went (CPU time per thread, in 10 ms ticks): proves these are V8's threads and not the libuv pool.
  t.ok(sum(idle, 'compileMs') >= 100, `TurboFan compiled on the idle threads: ${sum(idle, 'compileMs')} ms`);
  t.ok(sum(idle, 'compileMs') >= 0.7 * (sum(idle, 'compileMs') + sum(others, 'compileMs')), `and not elsewhere: ${sum(others, 'compileMs')} ms on other threads`);
  t.ok(sum(others, 'poolMs') >= 200, `the libuv pool ran on threads of the normal class: ${sum(others, 'poolMs')} ms`);
  t.ok(sum(idle, 'poolMs') <= 0.1 * sum(others, 'poolMs'), `not on the idle ones: ${sum(idle, 'poolMs')} ms`);
});

t.test('thread sched - without single-threaded GC, or opted out, nothing changes', { skip: linux ? false : 'Linux (x64, arm64) only' }, async (t) => {
  for (const [args, env, what] of [
    [[], { YOLOSCALE_THREAD_SCHED: '1' }, 'parallel GC'],
    [['--single-threaded-gc'], { YOLOSCALE_THREAD_SCHED: '0' }, 'opted out'],
  ] as const) {
    const { report, threads } = probe([...args], { ...env, PROBE_WORK: '0' });
    t.same(report, { tids: [], skipped: 'not wanted here' }, what);
    t.ok(threads.every((x) => x.policy === SCHED_OTHER), `${what}: every thread in the normal class`);
  }
});
