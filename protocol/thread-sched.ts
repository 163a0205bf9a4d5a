/**
 * V8's background threads run `SCHED_IDLE` in cluster processes on small
 * Linux machines, so a compile job never holds a core while a frame waits.
 *
 * V8 compiles hot functions with TurboFan on its platform's worker threads.
 * At 1,000 frames/s on 2 cores, `perf sched` showed most round trips over
 * 2 ms that no garbage collection explained waiting behind one: a woken
 * frame-path thread (a socket's JavaScript thread, a ZeroMQ I/O thread)
 * found both cores busy, one with a compile job of 2–4 ms, and waited for
 * the job's time slice to run out, checked at the next kernel tick (4 ms at
 * HZ=250). The kernel preempts a `SCHED_IDLE` thread the moment any other
 * thread on its core wakes up. Compile jobs still get the idle cores, and a
 * sliver of a saturated one; `bench e2e`, where inference saturates both
 * cores, measured the same with and without (ratio 0.83–0.89 either way).
 *
 * `bench scheduler` (2 vCPUs, Nov 2026, four alternating pairs): cluster
 * round trip p99 at 1,000 frames/s 3.5–5.2 ms as Linux starts the threads,
 * 2.6–3.0 ms with this; added p99 1.3–4.1 → 0.7–1.5 ms. A 0.1 ms time
 * slice for the frame-path threads (EEVDF custom slices) was tried on top:
 * no better p99, and the extra preemptions cost about 0.04 ms of p50.
 *
 * Only on Linux with at most 4 cores (as the V8 flags of v8-flags.ts), and
 * only where V8 collects garbage on the main thread alone
 * (`--single-threaded-gc`): otherwise these threads do parallel collection
 * work the main thread waits for, and the idle class would make it wait.
 * `YOLOSCALE_THREAD_SCHED=0` keeps Linux's defaults, `=1` applies it on any
 * number of cores. It takes no privilege (a process may always lower its own
 * threads' class), and where it cannot be done (another platform, a kernel that
 * refuses) the process runs as before: this changes when threads run, never
 * what they do.
 *
 * Which threads are V8's: Node creates them at start-up before any other
 * (the delayed-task thread, then `--v8-pool-size` workers, 4 by default), so
 * they hold the lowest thread ids after the main thread's. The libuv pool
 * (file system, DNS, sharp: the worker's image decoding), worker threads,
 * ZeroMQ's and ONNX Runtime's threads all come later and keep the normal
 * class. If thread ids wrapped around since start-up (one is below the main
 * thread's), nothing is changed.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { SMALL_MACHINE_CORES } from './v8-flags.js';

/** Scheduling policies (linux/sched.h). */
export const SCHED_OTHER = 0;
export const SCHED_IDLE = 5;

/** Node/V8 flags of a process: its command line, then NODE_OPTIONS. */
function nodeFlags(execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
}

/** Whether this process's V8 background threads go idle, from the platform, the cores, `YOLOSCALE_THREAD_SCHED` and its flags. */
export function idleV8ThreadsWanted(
  env: NodeJS.ProcessEnv = process.env,
  cores: number = availableParallelism(),
  execArgv: readonly string[] = process.execArgv,
  platform: NodeJS.Platform = process.platform,
): boolean {
  const setting = env.YOLOSCALE_THREAD_SCHED;
  if (platform !== 'linux' || setting === '0' || (setting !== '1' && cores > SMALL_MACHINE_CORES)) return false;
  return nodeFlags(execArgv, env).includes('--single-threaded-gc');
}

/** `--v8-pool-size` of a process (Node's default 4). */
export function v8PoolSize(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): number {
  const flags = nodeFlags(execArgv, env);
  let size = 4;
  flags.forEach((f, i) => {
    const value = f.startsWith('--v8-pool-size=') ? f.slice('--v8-pool-size='.length) : f === '--v8-pool-size' ? flags[i + 1] : undefined;
    if (value !== undefined && /^\d+$/.test(value)) size = Number(value);
  });
  return size;
}

/**
 * V8's background threads among a process's thread ids: the `poolSize + 1`
 * lowest above the main thread's (`pid`). Null when ids wrapped around since
 * start-up (one is below `pid`), or when there are not that many threads.
 */
export function v8BackgroundThreads(tids: readonly number[], pid: number, poolSize: number): number[] | null {
  if (tids.some((t) => t < pid)) return null;
  const after = tids.filter((t) => t > pid).sort((a, b) => a - b);
  return after.length < poolSize + 1 ? null : after.slice(0, poolSize + 1);
}

/** `sched_setattr` and `sched_getattr` numbers by architecture. */
const SYSCALLS: Partial<Record<string, { setattr: number; getattr: number }>> = {
  x64: { setattr: 314, getattr: 315 },
  arm64: { setattr: 274, getattr: 275 },
};

/** Size of `struct sched_attr` (SCHED_ATTR_SIZE_VER1). */
const SCHED_ATTR_SIZE = 56;

interface Native {
  /** 0 or an errno. */
  setPolicy(tid: number, policy: number): number;
  /** The policy, or -1. */
  policy(tid: number): number;
}

type Syscall = (nr: number, ...args: unknown[]) => number | bigint;

let native: Native | null | undefined;

/** The system calls through koffi (a dependency already, for TurboJPEG), or null where unavailable. */
function loadNative(): Native | null {
  if (native !== undefined) return native;
  native = null;
  const nr = SYSCALLS[process.arch];
  if (process.platform !== 'linux' || !nr) return native;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(decl: string): unknown }; errno(): number };
    const syscall = koffi.load('libc.so.6').func('long syscall(long nr, ...)') as Syscall;
    const call = (...args: unknown[]): number => Number(syscall(...(args as [number, ...unknown[]])));
    native = {
      setPolicy(tid, policy) {
        const attr = Buffer.alloc(SCHED_ATTR_SIZE);
        attr.writeUInt32LE(SCHED_ATTR_SIZE, 0);
        attr.writeUInt32LE(policy, 4);
        return call(nr.setattr, 'int', tid, 'void *', attr, 'unsigned int', 0) === 0 ? 0 : koffi.errno();
      },
      policy(tid) {
        const attr = Buffer.alloc(SCHED_ATTR_SIZE);
        return call(nr.getattr, 'int', tid, 'void *', attr, 'unsigned int', SCHED_ATTR_SIZE, 'unsigned int', 0) === 0 ? attr.readUInt32LE(4) : -1;
      },
    };
  } catch {
    native = null;
  }
  return native;
}

/** Scheduling policy of one of this process's threads (`SCHED_*`), or -1 where it cannot be read. */
export function threadPolicy(tid: number): number {
  return loadNative()?.policy(tid) ?? -1;
}

/** What {@link idleV8BackgroundThreads} did: the threads it moved, or why it moved none. */
export interface IdleV8Report {
  tids: number[];
  skipped?: string;
}

/**
 * Moves this process's V8 background threads to `SCHED_IDLE` when
 * {@link idleV8ThreadsWanted} says so. Called once at start-up by the
 * `yoloscale` command (cli/entry.ts) and the benchmark processes; calling it
 * again changes nothing.
 */
export function idleV8BackgroundThreads(wanted: boolean = idleV8ThreadsWanted()): IdleV8Report {
  if (!wanted) return { tids: [], skipped: 'not wanted here' };
  const n = loadNative();
  if (!n) return { tids: [], skipped: 'sched_setattr is not available (needs Linux on x64 or arm64)' };
  const tids = v8BackgroundThreads(readdirSync('/proc/self/task').map(Number), process.pid, v8PoolSize());
  if (!tids) return { tids: [], skipped: 'thread ids wrapped around since start-up' };
  const done: number[] = [];
  for (const tid of tids) {
    const errno = n.setPolicy(tid, SCHED_IDLE);
    if (errno !== 0) return { tids: done, skipped: `sched_setattr(${tid}, SCHED_IDLE) failed: errno ${errno}` };
    done.push(tid);
  }
  return { tids: done };
}
