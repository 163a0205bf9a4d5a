// Child process of test/protocol/thread-sched.test.ts: moves V8's background
// threads to SCHED_IDLE as `yoloscale` does (cli/entry.ts), then makes V8 compile in
// the background and the libuv pool work, and prints each thread's policy
// and the CPU time it spent in each phase. PROBE_WORK=0 skips the work.
import { pbkdf2 } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { idleV8BackgroundThreads, threadPolicy } from '../../protocol/thread-sched.js';

/** CPU time of each thread of this process, ms (utime + stime, 100 ticks a second). */
function cpuByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${entry}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(Number(entry), (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      /* exited */
    }
  }
  return out;
}

function delta(before: Map<number, number>, after: Map<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [tid, ms] of after) out[tid] = ms - (before.get(tid) ?? 0);
  return out;
}

const report = idleV8BackgroundThreads();
const work = process.env.PROBE_WORK !== '0';

// TurboFan: hot functions, each optimised on V8's background threads.
const c0 = cpuByThread();
let sink = 0;
for (let f = 0; f < (work ? 250 : 0); f++) {
  const fn = new Function('x', `let s = ${f}; for (let i = 0; i < 8; i++) { s = (s * 31 + x + i) % 1000003; if (s % ${f + 2} === 0) s += ${f}; } return s;`) as (x: number) => number;
  for (let i = 0; i < 30_000; i++) sink += fn(i);
}
await new Promise((r) => setTimeout(r, work ? 300 : 0)); // let queued compile jobs finish
const c1 = cpuByThread();
// The libuv pool.
await Promise.all(Array.from({ length: work ? 4 : 0 }, (_, i) => new Promise((resolve, reject) => pbkdf2('pw', `salt${i}`, 300_000, 32, 'sha256', (err) => (err ? reject(err) : resolve(null))))));
const c2 = cpuByThread();

const compileMs = delta(c0, c1);
const poolMs = delta(c1, c2);
const threads = [...c2.keys()].sort((a, b) => a - b).map((tid) => ({ tid, policy: threadPolicy(tid), compileMs: compileMs[tid] ?? 0, poolMs: poolMs[tid] ?? 0 }));
process.stdout.write(`${JSON.stringify({ pid: process.pid, report, sink, threads })}\n`);
