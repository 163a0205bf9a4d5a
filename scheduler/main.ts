/**
 * Process entry of `yoloscale scheduler`: builds the metrics registry, starts
 * the scheduler core in its own thread ({@link SchedulerHost}; why: see
 * core-thread.ts), builds the admin app on this thread, binds everything and
 * (optionally) stops cleanly on SIGTERM/SIGINT.
 */
import { Registry as MetricsRegistry } from 'prom-client';
import { ErrorCode, YoloscaleError, silentLogger } from '../protocol/index.js';
import type { Logger } from '../protocol/index.js';
// The admin app and node routes by their own modules (the admin index also holds the tenant
// routes and so the ledger), and the autoscaler only when it is on: every module in this
// process is marked at each of the frequent major collections that received images cause
// (see bench/scheduler.ts), so the process loads what it runs and no more.
import { buildAdminApp } from './admin/app.js';
import type { AdminPlugin } from './admin/app.js';
import { nodesRoutes } from './admin/nodes-routes.js';
import type { Autoscaler, AutoscalerOptions } from './autoscaler/index.js';
import { SchedulerHost } from './core-host.js';
import { SchedulerMetrics } from './metrics.js';
import type { CoreSchedulerOptions } from './core-thread-messages.js';
import type { FastifyPluginAsync } from 'fastify';

/** Without a node provider the pool routes say so, instead of a bare "no route". */
const poolOffRoutes: FastifyPluginAsync = async (app) => {
  const off = async (): Promise<never> => {
    throw new YoloscaleError(ErrorCode.notFound, 'autoscaling is off on this scheduler: start it with --provider local|ssh|redfish|command');
  };
  app.get('/v1/pool', off);
  app.put('/v1/pool', off);
  app.get('/v1/pool/forecast', off);
  app.post('/v1/nodes/provision', off);
};

/** Options of {@link runScheduler}; the scheduler's own (`maxBatch`, `maxDelayMs`, …) as in `SchedulerOptions`. */
export interface RunSchedulerOptions extends CoreSchedulerOptions {
  /** Admin bearer token (required, at least 8 characters). */
  adminToken: string;
  /** Interface to listen on (default `0.0.0.0`: all). */
  host?: string;
  /** Worker ROUTER port (default 5555; 0 picks a free one). */
  workerPort?: number;
  /** Gateway ROUTER port (default 5556; 0 picks a free one). */
  clientPort?: number;
  /** Admin HTTP port (default 8081; 0 picks a free one). */
  adminPort?: number;
  /** prom-client registry (default: a fresh one, never the global default). */
  metricsRegistry?: MetricsRegistry;
  /** More admin route plugins (tenants, plans, pool…), registered behind the admin token. */
  adminPlugins?: readonly AdminPlugin[];
  logger?: Logger;
  /** Close on SIGTERM/SIGINT, and on an error nothing caught (exit code 1); default true. */
  handleSignals?: boolean;
  /**
   * Autoscaling (SPEC.md §9): a node provider and the pool's bounds. The
   * reconcile loop runs in this process, fed by every admitted frame, and
   * `GET|PUT /v1/pool`, `GET /v1/pool/forecast` and `POST /v1/nodes/provision`
   * join the admin API. The provider is closed with the scheduler (the local
   * provider stops its worker processes; remote hosts are left running).
   */
  autoscaling?: Omit<AutoscalerOptions, 'cluster' | 'metricsRegistry' | 'logger'>;
}

/** A running scheduler process. */
export interface SchedulerHandle {
  /** The scheduler core, running in its own thread. */
  scheduler: SchedulerHost;
  /** The reconcile loop, when autoscaling is on. */
  autoscaler?: Autoscaler;
  metricsRegistry: MetricsRegistry;
  /** Bound endpoints, e.g. `tcp://0.0.0.0:5555`. */
  workerEndpoint: string;
  clientEndpoint: string;
  workerPort: number;
  clientPort: number;
  adminPort: number;
  /** `http://HOST:PORT` of the admin API. */
  adminUrl: string;
  /** Stops everything (idempotent). */
  close(): Promise<void>;
  /** Settles when the scheduler has closed (after `close()` or a signal). */
  closed: Promise<void>;
}

function port(v: unknown, name: string, dflt: number): number {
  const p = v ?? dflt;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 65535) throw new TypeError(`options.${name} must be an integer port 0–65535`);
  return p;
}

function endpointPort(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

/** Starts a scheduler: worker and gateway ROUTERs plus the admin API. */
export async function runScheduler(opts: RunSchedulerOptions): Promise<SchedulerHandle> {
  if (!opts || typeof opts.adminToken !== 'string' || opts.adminToken.length < 8) throw new TypeError('options.adminToken must be a string of at least 8 characters');
  const logger = opts.logger ?? silentLogger;
  const host = opts.host ?? '0.0.0.0';
  const zmqHost = host === '0.0.0.0' ? '*' : host;
  const workerPort = port(opts.workerPort, 'workerPort', 5555);
  const clientPort = port(opts.clientPort, 'clientPort', 5556);
  const adminPort = port(opts.adminPort, 'adminPort', 8081);
  const metricsRegistry = opts.metricsRegistry ?? new MetricsRegistry();
  // The gauges read the core's last tick, which a scrape brings up to date first.
  const ref: { scheduler?: SchedulerHost; autoscaler?: Autoscaler } = {};
  const metrics = new SchedulerMetrics(metricsRegistry, {
    queueDepth: (lane) => ref.scheduler?.queueDepth(lane) ?? 0,
    nodeCounts: () => (ref.scheduler as SchedulerHost).counts(),
  });
  const s = await SchedulerHost.start({
    workerEndpoint: `tcp://${zmqHost}:${workerPort}`,
    clientEndpoint: `tcp://${zmqHost}:${clientPort}`,
    scheduler: {
      maxBatch: opts.maxBatch,
      maxDelayMs: opts.maxDelayMs,
      heartbeatMs: opts.heartbeatMs,
      deadAfterMs: opts.deadAfterMs,
      maxRequeues: opts.maxRequeues,
      perTenantLimit: opts.perTenantLimit,
      scavengeEveryMb: opts.scavengeEveryMb,
      curve: opts.curve,
    },
    logger,
    metrics,
    onAdmit: opts.autoscaling ? (model, cost) => ref.autoscaler?.recordTokens(model, cost) : undefined,
  });
  ref.scheduler = s;
  const endpoints = s.endpoints;
  let app;
  let autoscaler: Autoscaler | undefined;
  try {
    const auto = opts.autoscaling ? await import('./autoscaler/index.js') : undefined;
    // The autoscaler reads nodes and queue depths from the core's last tick; its writes reach the core in order.
    const clusterView = { registry: s.registry, act: (id: string, action: 'drain' | 'retire') => s.act(id, action), queue: () => s.queueNow() };
    autoscaler = auto && opts.autoscaling ? new auto.Autoscaler({ ...opts.autoscaling, cluster: auto.schedulerClusterPort(clusterView, { logger }), metricsRegistry, logger }) : undefined;
    ref.autoscaler = autoscaler;
    const retire = autoscaler;
    app = await buildAdminApp({
      adminToken: opts.adminToken,
      metricsRegistry,
      logger,
      plugins: [
        { plugin: nodesRoutes, opts: { admin: s, onRetire: retire ? (id: string) => retire.terminate(id, 'operator retire') : undefined } },
        auto && autoscaler ? { plugin: auto.poolRoutes, opts: { autoscaler } } : { plugin: poolOffRoutes, opts: {} },
        ...(opts.adminPlugins ?? []),
      ],
      health: async () => {
        await s.flush();
        return { nodes: s.counts().ready };
      },
      beforeScrape: () => s.flush(),
    });
    await app.listen({ host, port: adminPort });
  } catch (err) {
    await s.close();
    await app?.close();
    await autoscaler?.close();
    throw err;
  }
  autoscaler?.start();
  const address = app.server.address();
  const boundAdmin = typeof address === 'object' && address ? address.port : adminPort;
  const adminUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${boundAdmin}`;
  logger.info({ admin: adminUrl, workers: endpoints.workers, clients: endpoints.clients }, 'scheduler started');

  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    logger.info({ signal: sig }, 'scheduler stopping');
    close().catch((err: unknown) => logger.error({ err }, 'scheduler close failed'));
  };
  // An error nothing caught on this thread stops the scheduler in order: exiting
  // while the core thread has its ZeroMQ sockets open would abort the process.
  const onFatal = (err: unknown): void => {
    process.exitCode = 1;
    if (closing) {
      logger.error({ err }, 'uncaught error while the scheduler stops');
      return;
    }
    logger.error({ err }, 'uncaught error in the scheduler; it stops');
    void close().then(() => {
      // Whatever the error left open no longer holds the process (the core thread is closed: exiting is safe now).
      setTimeout(() => process.exit(1), 5_000).unref();
    });
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      try {
        await app.close();
        // Local workers are stopped (and drain) while the scheduler still answers them.
        await autoscaler?.close();
        await s.close();
      } finally {
        process.off('uncaughtException', onFatal);
        process.off('unhandledRejection', onFatal);
      }
      logger.info({}, 'scheduler stopped');
      resolveClosed();
    })();
    return closing;
  };
  void s.exited.then((code) => {
    if (closing) return;
    logger.error({ code }, 'scheduler core thread stopped unexpectedly; the scheduler stops');
    process.exitCode = 1;
    void close();
  });
  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
  }
  return {
    scheduler: s,
    autoscaler,
    metricsRegistry,
    workerEndpoint: endpoints.workers,
    clientEndpoint: endpoints.clients,
    workerPort: endpointPort(endpoints.workers),
    clientPort: endpointPort(endpoints.clients),
    adminPort: boundAdmin,
    adminUrl,
    close,
    closed,
  };
}
