/**
 * Process entry of `yoloscale worker`: creates the engine (unless the node
 * is echo-only), starts the {@link NodeAgent}, and drains then stops on
 * SIGTERM/SIGINT.
 */
import { silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import { NodeAgent } from './agent.js';
import type { NodeAgentOptions } from './agent.js';
import type { EngineLike } from './engine-like.js';

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** Scheduler worker endpoint, `tcp://HOST:5555`. */
  scheduler: string;
  /** Model directory (needed unless `engine` is given or `inference` is false). */
  modelsDir?: string;
  /** `auto`, `cuda` or `cpu` (default `auto`). */
  device?: 'auto' | 'cuda' | 'cpu';
  /** Engine threads (default: the engine's choice). */
  threads?: number;
  /** Models to load at start (default: the default model when present). */
  preload?: string[];
  /** Offer the `echo` model (SPEC.md §3; `YOLOSCALE_ECHO=1`). */
  echo?: boolean;
  /** Run real models (default true). False makes an echo-only node with no engine (needs `echo`). */
  inference?: boolean;
  /** An engine to use instead of creating one. */
  engine?: EngineLike;
  /** Node id (default `HOSTNAME-PID`). */
  nodeId?: string;
  /** Frames accepted in flight. */
  slots?: number;
  /** Delay before echo frames are answered, ms (default 0). */
  echoDelayMs?: number;
  /** CURVE client keys (see {@link NodeAgentOptions.curve}). */
  curve?: NodeAgentOptions['curve'];
  logger?: Logger;
  /** Drain and stop on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
  /**
   * Drain and stop once this process's parent is no longer this pid (the
   * scheduler that launched it as a `local` node died without stopping it).
   */
  exitWithParentPid?: number;
}

/** A running worker process. */
export interface WorkerHandle {
  agent: NodeAgent;
  nodeId: string;
  /** Drains (finishes in-flight work, takes no new work) then stops. */
  shutdown(): Promise<void>;
  /** Settles when the agent has stopped (shutdown, signal, or retired by the scheduler). */
  closed: Promise<void>;
}

/** Starts a worker node agent connected to the scheduler. */
export async function runWorker(opts: RunWorkerOptions): Promise<WorkerHandle> {
  if (!opts || typeof opts.scheduler !== 'string') throw new TypeError('options.scheduler must look like tcp://HOST:PORT');
  const logger = opts.logger ?? silentLogger;
  const echo = opts.echo ?? false;
  let engine: EngineLike | null = opts.engine ?? null;
  if (!engine && opts.inference !== false) {
    if (typeof opts.modelsDir !== 'string' || opts.modelsDir === '') throw new TypeError('options.modelsDir must be a directory path');
    // Loaded only here: an echo-only node never loads ONNX Runtime, sharp or the thread pool.
    const { createEngine } = await import('./engine-adapter.js');
    engine = await createEngine({ modelsDir: opts.modelsDir, device: opts.device ?? 'auto', threads: opts.threads, preload: opts.preload, logger });
  }
  const agent = new NodeAgent({ scheduler: opts.scheduler, nodeId: opts.nodeId, engine, echo, slots: opts.slots, echoDelayMs: opts.echoDelayMs, curve: opts.curve, logger });
  await agent.start();
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'worker draining before exit');
    shutdown().catch((err: unknown) => logger.error({ err }, 'worker shutdown failed'));
  };
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await agent.drain();
      await agent.close();
    })();
    return stopping;
  };
  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    agent.closed
      .then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      })
      .catch(() => {});
  }
  if (opts.exitWithParentPid !== undefined) {
    const parent = opts.exitWithParentPid;
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      logger.warn({ parent }, 'the process that launched this worker is gone; draining and stopping');
      shutdown().catch((err: unknown) => logger.error({ err }, 'worker shutdown failed'));
    }, 1000);
    watch.unref();
    agent.closed.finally(() => clearInterval(watch)).catch(() => {});
  }
  return { agent, nodeId: agent.nodeId, shutdown, closed: agent.closed };
}
