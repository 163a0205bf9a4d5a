/**
 * The scheduler's admin HTTP API (`:8081`, SPEC.md §6): a fastify app whose
 * routes come as plugins (nodes and queue here; tenants, plans and pool are
 * registered by their owners through `plugins`). Every route but `/healthz`
 * and `/metrics` needs `Authorization: Bearer ADMIN_TOKEN`. Never listens
 * on import: the caller calls `listen`.
 */
import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Registry as MetricsRegistry } from 'prom-client';
import { ErrorCode, YoloscaleError, silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import { AuthFailureLimiter, bearerToken, tokenMatches } from './auth.js';

/** A route plugin with its options, registered after the auth hook. */
export interface AdminPlugin {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- plugins carry their own option types
  plugin: FastifyPluginAsync<any>;
  opts?: Record<string, unknown>;
}

/** Options of {@link buildAdminApp}. */
export interface AdminAppOptions {
  /** The admin bearer token (at least 8 characters). */
  adminToken: string;
  /** Registry `/metrics` exposes (created in `main`, injected). */
  metricsRegistry: MetricsRegistry;
  /** Route plugins (e.g. `nodesRoutes` with the scheduler). */
  plugins?: readonly AdminPlugin[];
  logger?: Logger;
  /** Failed auth attempts per client address per minute before 429 (default 20). */
  authFailuresPerMinute?: number;
  /** Answer of `/healthz` beyond `{status:"ok"}`. */
  health?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Awaited before each `/metrics` scrape (the scheduler core thread hands over its latest metrics). */
  beforeScrape?: () => Promise<void>;
}

const PUBLIC = new Set(['/healthz', '/metrics']);

/** Builds the admin app (not listening). */
export async function buildAdminApp(opts: AdminAppOptions): Promise<FastifyInstance> {
  if (typeof opts.adminToken !== 'string' || opts.adminToken.length < 8) throw new TypeError('options.adminToken must be a string of at least 8 characters');
  if (!opts.metricsRegistry || typeof opts.metricsRegistry.metrics !== 'function') throw new TypeError('options.metricsRegistry must be a prom-client Registry');
  const logger = opts.logger ?? silentLogger;
  const limiter = new AuthFailureLimiter(opts.authFailuresPerMinute ?? 20);
  const token = opts.adminToken;
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (PUBLIC.has(path)) return;
    const now = Date.now();
    const blocked = limiter.blockedForS(req.ip, now);
    if (blocked > 0) {
      reply.header('Retry-After', String(blocked));
      throw new YoloscaleError(ErrorCode.rateLimited, 'too many failed authentication attempts', { retryAfterS: blocked });
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented === null || !tokenMatches(presented, token)) {
      limiter.fail(req.ip, now);
      throw new YoloscaleError(ErrorCode.unauthorized, 'admin token required: Authorization: Bearer ADMIN_TOKEN');
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof YoloscaleError) {
      if (err.retryAfterS !== undefined) reply.header('Retry-After', String(err.retryAfterS));
      return reply.status(err.httpStatus).send(err.toJSON());
    }
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation || (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.status(e.statusCode ?? 400).send(new YoloscaleError(ErrorCode.badRequest, e.message ?? 'bad request').toJSON());
    }
    logger.error({ err, url: req.url }, 'admin request failed');
    return reply.status(500).send(new YoloscaleError(ErrorCode.internal, 'internal error').toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(new YoloscaleError(ErrorCode.notFound, `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });

  app.get('/healthz', async () => ({ status: 'ok', ...(opts.health ? await opts.health() : {}) }));
  app.get('/metrics', async (_req, reply) => {
    await opts.beforeScrape?.();
    reply.header('Content-Type', opts.metricsRegistry.contentType);
    return opts.metricsRegistry.metrics();
  });
  for (const p of opts.plugins ?? []) await app.register(p.plugin, p.opts ?? {});
  return app;
}
