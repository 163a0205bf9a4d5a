/**
 * The gateway process (`yoloscale gateway`): opens the ledger, connects to the
 * scheduler, builds the app and listens on `:8080` (SPEC.md §2).
 */
import { pino } from 'pino';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { SchedulerClient } from '../protocol/index.js';
import type { CurveClientOptions, Logger } from '../protocol/index.js';
import { openLedger } from '../ledger/index.js';
import type { Ledger } from '../ledger/index.js';
import { buildApp } from './app.js';
import type { GatewayLimits } from './app.js';
import type { DetectionBackend } from './backend.js';

/** Options of {@link runGateway}. */
export interface RunGatewayOptions {
  /** HTTP port (SPEC.md §2: 8080; 0 picks a free one). */
  port?: number;
  /** Address to bind; default `0.0.0.0`. */
  host?: string;
  /** Data directory (SQLite ledger lives here when `redisUrl` is unset). */
  dataDir: string;
  /** Redis URL of the ledger; unset: embedded SQLite in `dataDir`. */
  redisUrl?: string;
  /** Scheduler client endpoint; default `tcp://127.0.0.1:5556`. */
  schedulerEndpoint?: string;
  /** CURVE client keys for the scheduler connection (SPEC.md §13; default: plain TCP). */
  schedulerCurve?: CurveClientOptions;
  /** Process logger (pino); default JSON lines on stderr with keys redacted. */
  logger?: FastifyBaseLogger;
  limits?: GatewayLimits;
  /** Top-up URL shown in `insufficient_tokens` refusals (`YOLOSCALE_TOPUP_URL`; `{tenant}` is replaced). */
  topupUrl?: string;
  /** Use this ledger instead of opening one (not closed by the gateway). */
  ledger?: Ledger;
  /** Use this backend instead of a `SchedulerClient` (not closed by the gateway). */
  backend?: DetectionBackend;
}

/** A running gateway. */
export interface RunningGateway {
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops listening, closes streams, the scheduler connection and the ledger. */
  close(): Promise<void>;
}

/** Paths pino must never write: keys, tokens and tickets. */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'headers.authorization',
  'headers["x-auth-token"]',
  'key',
  'apiKey',
  'token',
  'ticket',
]);

/**
 * The default process logger of the gateway: JSON lines (stderr unless
 * `destination` is given) with keys, tokens and tickets redacted.
 */
export function createGatewayLogger(level = process.env.YOLOSCALE_LOG_LEVEL ?? 'info', destination?: NodeJS.WritableStream): FastifyBaseLogger {
  return pino({ name: 'gateway', level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, destination ?? pino.destination(2));
}

/**
 * Starts the gateway and resolves once it listens. The scheduler may come
 * later: `/readyz` says 503 until it answers and has a ready worker.
 */
export async function runGateway(opts: RunGatewayOptions): Promise<RunningGateway> {
  if (!opts || typeof opts.dataDir !== 'string' || opts.dataDir === '') throw new TypeError('options.dataDir must be a non-empty string');
  const port = opts.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('options.port must be an integer from 0 to 65535');
  const logger = opts.logger ?? createGatewayLogger();
  const log = logger as unknown as Logger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const ledger = opts.ledger ?? (await openLedger({ dataDir: opts.dataDir, ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}) }));
  let client: SchedulerClient | undefined;
  let backend: DetectionBackend;
  if (opts.backend) {
    backend = opts.backend;
  } else {
    client = new SchedulerClient({ endpoint: opts.schedulerEndpoint ?? 'tcp://127.0.0.1:5556', logger: log.child({ part: 'scheduler-client' }), curve: opts.schedulerCurve });
    client.connect();
    backend = client;
  }
  const app = await buildApp({
    backend, ledger, registry, logger, ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.topupUrl ? { topupUrl: opts.topupUrl } : {}),
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    if (client) await client.close();
    // Frames the closed connection gave up on are refunded before the ledger goes.
    await app.flushRefunds(5_000);
    if (!opts.ledger) await ledger.close();
  };
  try {
    await app.listen({ port, host: opts.host ?? '0.0.0.0' });
  } catch (err) {
    await close();
    throw err;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info({ url }, 'gateway listening');
  return { app, url, port: boundPort, close };
}
