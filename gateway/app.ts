/**
 * `buildApp(opts)`: the gateway's fastify application (SPEC.md §5). It never
 * listens by itself; `runGateway` in main.ts does. Route groups are plugins;
 * every route has schemas, from which `/openapi.json` and `/docs` are made.
 */
import { createServer } from 'node:http';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Registry } from 'prom-client';
import { ErrorCode, MAX_IMAGE_BYTES, YoloscaleError } from '../protocol/index.js';
import { Admission } from './admission.js';
import type { AdmissionLedger, Principal } from './admission.js';
import { AuthFailureLimiter, TicketStore } from './auth.js';
import type { DetectionBackend } from './backend.js';
import type { AnnotateFn, GatewayContext, ResolvedLimits } from './context.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import { detectRoutes } from './routes/detect.js';
import { modelRoutes, opsRoutes, usageRoutes } from './routes/info.js';
import { streamRoutes } from './routes/stream.js';
import { defaultWebDir, webRoutes } from './routes/web.js';
import { annotateImage } from './annotate.js';

/** Tunable limits of the gateway; every field optional. */
export interface GatewayLimits {
  /** Deadline of a REST frame, ms (SPEC.md §8: 10 s). */
  restDeadlineMs?: number;
  /** Deadline of a stream frame, ms (SPEC.md §8: 1 s). */
  streamDeadlineMs?: number;
  /** Concurrent WebSocket streams per tenant. Default 4. */
  maxStreamsPerTenant?: number;
  /** Bytes a stream may have waiting for a slow client before results are dropped. Default 256 KiB. */
  streamMaxBufferedBytes?: number;
  /** Largest WebSocket message, bytes (bigger ones close the stream with 1009). Default 20 MB. */
  streamMaxPayloadBytes?: number;
  /** Most time to receive a whole request, ms (slow-client guard). Default 30 000. */
  requestTimeoutMs?: number;
  /** Idle time after which a connection is closed, ms. Default 60 000. */
  connectionTimeoutMs?: number;
  /** Failed authentications per minute and address before 429. Default 20. */
  authFailuresPerMinute?: number;
  /** Lifetime of a stream ticket, ms. Default 60 000. */
  ticketTtlMs?: number;
}

/** Options of {@link buildApp}. */
export interface GatewayAppOptions {
  /** Runs the detections (the `SchedulerClient` in production). */
  backend: DetectionBackend;
  /** The token ledger (auth, debit, refund, usage). */
  ledger: AdmissionLedger;
  /** prom-client registry the gateway's metrics are registered on. */
  registry: Registry;
  /** A pino logger (keys are redacted by whoever made it); default: no logging. */
  logger?: FastifyBaseLogger;
  /** Draws boxes for `Accept: image/jpeg`; default `annotateImage`. */
  annotate?: AnnotateFn;
  limits?: GatewayLimits;
  /** Folder of the web page; default `gateway/web`. */
  webDir?: string;
  /** Trust `X-Forwarded-For` (behind a proxy). Default false. */
  trustProxy?: boolean;
  /** Clock, epoch ms. */
  now?: () => number;
  /** Top-up URL shown in `insufficient_tokens` refusals (`{tenant}` is replaced); default none. */
  topupUrl?: string;
}

const DEFAULT_LIMITS: Readonly<Required<GatewayLimits>> = Object.freeze({
  restDeadlineMs: 10_000,
  streamDeadlineMs: 1_000,
  maxStreamsPerTenant: 4,
  streamMaxBufferedBytes: 256 * 1024,
  streamMaxPayloadBytes: MAX_IMAGE_BYTES,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 60_000,
  authFailuresPerMinute: 20,
  ticketTtlMs: 60_000,
});

function resolveLimits(limits: GatewayLimits = {}): Required<GatewayLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits) as [keyof GatewayLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`options.limits.${key} is not a known limit`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new TypeError(`options.limits.${key} must be a positive integer`);
    }
    out[key] = value;
  }
  return out;
}

/** The request line without its query string (tickets must not reach the logs). */
function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0];
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Waits for refunds under way and retries those owed while the ledger was
     * unreachable, for up to `timeoutMs`; resolves with how many are still owed.
     * Call it after the scheduler connection closed, before the ledger does.
     */
    flushRefunds(timeoutMs: number): Promise<number>;
  }
}

/**
 * Builds the gateway application: REST, WebSocket, web page, docs, metrics.
 * Call `listen` on the result (or `inject` in tests); `close` it when done.
 */
export async function buildApp(opts: GatewayAppOptions): Promise<FastifyInstance> {
  if (!opts?.backend) throw new TypeError('options.backend is required');
  if (!opts.ledger) throw new TypeError('options.ledger is required');
  if (!opts.registry) throw new TypeError('options.registry is required');
  if (opts.annotate !== undefined && typeof opts.annotate !== 'function') throw new TypeError('options.annotate must be a function');
  const limits = resolveLimits(opts.limits);
  const now = opts.now ?? Date.now;
  const metrics = new GatewayMetrics(opts.registry);
  const admission = new Admission({
    ledger: opts.ledger,
    metrics,
    limiter: new AuthFailureLimiter({ maxFailures: limits.authFailuresPerMinute, windowMs: 60_000, now }),
    now,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.topupUrl !== undefined ? { topupUrl: opts.topupUrl } : {}),
  });
  const resolved: ResolvedLimits = {
    restDeadlineMs: limits.restDeadlineMs,
    streamDeadlineMs: limits.streamDeadlineMs,
    maxStreamsPerTenant: limits.maxStreamsPerTenant,
    streamMaxBufferedBytes: limits.streamMaxBufferedBytes,
    streamMaxPayloadBytes: limits.streamMaxPayloadBytes,
    requestTimeoutMs: limits.requestTimeoutMs,
    connectionTimeoutMs: limits.connectionTimeoutMs,
  };
  const ctx: GatewayContext = {
    backend: opts.backend,
    admission,
    metrics,
    tickets: new TicketStore<Principal>({ ttlMs: limits.ticketTtlMs, now }),
    annotate: opts.annotate ?? annotateImage,
    limits: resolved,
    now,
    streamsByTenant: new Map(),
  };

  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: 1024 * 1024,
    // Our own server so the slow-client guards fire promptly: a request must arrive whole within
    // requestTimeoutMs (checked every second, not Node's default 30 s), and idle sockets close after
    // connectionTimeoutMs. Upgraded WebSockets are exempt (ws clears the socket timeout).
    serverFactory: (handler) => {
      const server = createServer(
        {
          requestTimeout: limits.requestTimeoutMs,
          headersTimeout: Math.min(limits.requestTimeoutMs, 20_000),
          connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs),
          keepAliveTimeout: 5_000,
        },
        handler,
      );
      server.setTimeout(limits.connectionTimeoutMs);
      return server;
    },
    trustProxy: opts.trustProxy ?? false,
    // Fastify's own request lines carry the URL, and stream URLs carry tickets: we log our own line instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests arriving while the gateway closes get our own 503 (below), in the SPEC's error shape with Retry-After.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('tokenState', null);
  app.setErrorHandler(errorHandler);
  app.decorate('flushRefunds', (timeoutMs: number) => admission.flushRefunds(timeoutMs));
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new YoloscaleError(ErrorCode.noCapacity, 'the gateway is shutting down; retry shortly', { retryAfterS: 1 });
  });
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe({ route, method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    request.log.info({ method: request.method, path: pathOf(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(websocket, {
    options: { maxPayload: limits.streamMaxPayloadBytes, perMessageDeflate: false },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'yoloscale gateway',
        version: '1',
        description:
          'Token-metered YOLO object detection: one-shot REST and WebSocket streaming. Every authenticated response ' +
          'carries `X-Tokens-Remaining` and `X-Tokens-Reset` (epoch seconds of the next UTC hour). Errors are ' +
          '`{"error":{"code","message",…}}`; 429 and 503 carry `Retry-After`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get(
    '/openapi.json',
    { schema: { hide: true, response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => app.swagger(),
  );

  await app.register(detectRoutes(ctx));
  await app.register(streamRoutes(ctx));
  await app.register(modelRoutes(ctx));
  await app.register(usageRoutes(ctx));
  await app.register(opsRoutes(ctx, opts.registry));
  await app.register(webRoutes(opts.webDir ?? defaultWebDir()));
  return app;
}
