/**
 * V8 flags every cluster process (scheduler, gateway, worker) starts with,
 * in one place for `bin/yoloscale.js` (which sets them before loading
 * anything else) and the benchmark harness (which passes them on the
 * command line of the processes it starts, so benchmarks measure what
 * `yoloscale` runs).
 *
 * `--no-concurrent-marking` on machines with at most 4 cores: every image a
 * cluster process receives is an external buffer and V8 runs frequent major
 * collections because of them (see zmq.ts). With few cores, background
 * marking threads compete with the cluster's own processes; marking on the
 * main thread measured about a quarter less CPU per frame in
 * `bench scheduler` on 2 cores. `YOLOSCALE_V8_CONCURRENT_MARKING=1` keeps
 * V8's default.
 */
import { availableParallelism } from 'node:os';

/** The flags for this machine and environment. */
export function clusterV8Flags(env: NodeJS.ProcessEnv = process.env, cores: number = availableParallelism()): string[] {
  return cores <= 4 && env.YOLOSCALE_V8_CONCURRENT_MARKING !== '1' ? ['--no-concurrent-marking'] : [];
}
