/**
 * V8 flags every cluster process (scheduler, gateway, worker) runs with, in
 * one place for `bin/yoloscale.js`, for the processes `yoloscale up` and the
 * `local` autoscaler provider start, and for the benchmark harness, so that
 * benchmarks measure what `yoloscale` runs. Only on machines with at most 4
 * cores, where V8's background GC threads compete with the cluster's own
 * processes for the cores (each measured side by side in `bench scheduler`
 * on 2 cores):
 *
 * - `--no-concurrent-marking` (set at run time by `bin/yoloscale.js`): every
 *   image a cluster process receives is an external buffer, and V8 runs
 *   frequent major collections because of them (see zmq.ts); marking on the
 *   main thread measured about a quarter less CPU per frame.
 *   `YOLOSCALE_V8_CONCURRENT_MARKING=1` keeps V8's default.
 * - `--single-threaded-gc` (on the command line: V8 cannot switch it on a
 *   heap that exists, it aborts at the next mark-compact): a scavenge that
 *   waits for helper threads the kernel has not scheduled yet stalls every
 *   frame in flight. Cluster round trip p99 at 1,000 frames/s, three runs
 *   each (Nov 2026): 3.6–4.7 ms against 4.4–5.2 ms. Processes started by
 *   hand get `--no-parallel-scavenge` at run time instead, the part that can
 *   be switched late. `YOLOSCALE_V8_PARALLEL_GC=1` keeps V8's default.
 * - `--no-memory-reducer` (on the command line too, with the other): V8's
 *   memory reducer runs major collections in a process that looks idle, to
 *   shrink its heap. A cluster's second echo worker, or any lightly loaded
 *   process, looked idle enough: mark-compacts of up to 14 ms on a core the
 *   busy processes needed, the longest stalls of `bench scheduler`'s
 *   cluster round trips (max 12–15 ms → 6–7 ms, p99 2.4–2.9 → 2.3–2.4 ms,
 *   three pairs, Nov 2026). The heaps it would shrink are 10–20 MB.
 *   `YOLOSCALE_V8_MEMORY_REDUCER=1` keeps V8's default.
 */
import { availableParallelism } from 'node:os';

/** Most cores of a machine where the cluster's processes get these flags (and thread-sched.ts's idle V8 threads). */
export const SMALL_MACHINE_CORES = 4;

/** Each flag with the environment variable that, set to `1`, keeps V8's default instead. */
type FlagTable = ReadonlyArray<readonly [flag: string, keepDefault: string]>;

const RUN_TIME_FLAGS: FlagTable = [
  ['--no-concurrent-marking', 'YOLOSCALE_V8_CONCURRENT_MARKING'],
  ['--no-parallel-scavenge', 'YOLOSCALE_V8_PARALLEL_GC'],
];
const COMMAND_LINE_FLAGS: FlagTable = [
  ['--single-threaded-gc', 'YOLOSCALE_V8_PARALLEL_GC'],
  ['--no-memory-reducer', 'YOLOSCALE_V8_MEMORY_REDUCER'],
];

function smallMachineFlags(table: FlagTable, env: NodeJS.ProcessEnv, cores: number): string[] {
  return cores > SMALL_MACHINE_CORES ? [] : table.filter(([, keepDefault]) => env[keepDefault] !== '1').map(([flag]) => flag);
}

/** The flags `bin/yoloscale.js` sets at run time, before loading anything else. */
export function clusterV8Flags(env: NodeJS.ProcessEnv = process.env, cores: number = availableParallelism()): string[] {
  return smallMachineFlags(RUN_TIME_FLAGS, env, cores);
}

/** The flags that must be on the `node` command line of a cluster process. */
export function clusterNodeFlags(env: NodeJS.ProcessEnv = process.env, cores: number = availableParallelism()): string[] {
  return smallMachineFlags(COMMAND_LINE_FLAGS, env, cores);
}

/** Node arguments for a cluster process this one starts: its own, plus the command-line flags they lack. */
export function clusterExecArgv(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env, cores: number = availableParallelism()): string[] {
  return [...execArgv, ...clusterNodeFlags(env, cores).filter((f) => !execArgv.includes(f))];
}
