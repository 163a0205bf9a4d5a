/**
 * Small routes: `GET /v1/models` (public; marks what the caller's plan allows
 * when a key is sent), `GET /v1/usage` (own tenant only), `/healthz`,
 * `/readyz` and `/metrics`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { extractKey } from '../auth.js';
import { authHook, tokenHeadersHook } from '../context.js';
import type { GatewayContext } from '../context.js';
import { ErrorBodySchema, HealthSchema, ModelsResponseSchema, OpenObjectSchema } from '../schemas.js';

const ERRORS = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema };

/** Route plugin of `GET /v1/models` (public; with a key it also says what the caller's plan allows). */
export function modelRoutes(ctx: GatewayContext) {
  const auth = authHook(ctx);
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', async (request, reply) => {
      if (extractKey(request.headers) !== undefined) await auth(request, reply);
    });
    app.addHook('onSend', tokenHeadersHook(ctx));
    app.get(
      '/v1/models',
      {
        schema: {
          tags: ['models'],
          summary: 'Models the cluster serves, default first, with their token price per 1080p-sized frame',
          description: 'Public. With a key, each model also says whether the caller’s plan allows it (`allowed`).',
          response: { 200: ModelsResponseSchema, ...ERRORS },
        },
      },
      async (request: FastifyRequest) => ({
        models: ctx.backend.models().map((m, i) => ({
          id: m.id,
          tokensPerFrame: m.tokensPerFrame,
          ...(m.inputSize !== undefined ? { inputSize: m.inputSize } : {}),
          ...(m.family !== undefined ? { family: m.family } : {}),
          ...(m.description !== undefined ? { description: m.description } : {}),
          default: i === 0,
          ...(request.principal ? { allowed: ctx.admission.allows(request.principal, m.id) } : {}),
        })),
      }),
    );
  };
}

/** Route plugin of `GET /v1/usage` and `GET /v1/webhook/deliveries` (own tenant only). */
export function usageRoutes(ctx: GatewayContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authHook(ctx));
    app.addHook('onSend', tokenHeadersHook(ctx));
    app.get(
      '/v1/usage',
      {
        schema: {
          tags: ['tokens'],
          summary: "The caller's own plan, balances, hourly usage by model for 24 h and plan changes",
          security: [{ apiKey: [] }, { bearer: [] }],
          response: { 200: OpenObjectSchema, ...ERRORS },
        },
      },
      async (request: FastifyRequest) => {
        const report = await ctx.admission.usage(request.principal!);
        request.tokenState = { remaining: report.balance.remaining, resetAt: report.balance.resetAt };
        return report;
      },
    );
    app.get(
      '/v1/webhook/deliveries',
      {
        schema: {
          tags: ['tokens'],
          summary: "The caller's own webhook delivery log, newest first (the last 100 attempts)",
          description:
            'Each attempt: `eventId`, `type` (balance_low, budget_exhausted, plan_changed, best_effort_entered, best_effort_left), ' +
            '`attempt`, `at`, `outcome` (delivered, retrying, failed), `status` (HTTP status or null), `error`, `durationMs`.',
          security: [{ apiKey: [] }, { bearer: [] }],
          response: { 200: OpenObjectSchema, ...ERRORS },
        },
      },
      async (request: FastifyRequest) => ({ deliveries: await ctx.admission.deliveries(request.principal!) }),
    );
  };
}

/** Route plugin of `/healthz`, `/readyz` and `/metrics`. */
export function opsRoutes(ctx: GatewayContext, registry: Registry) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/healthz',
      { schema: { tags: ['ops'], summary: 'Liveness: the process answers', response: { 200: HealthSchema } } },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          tags: ['ops'],
          summary: 'Readiness: connected to the scheduler and at least one worker ready',
          response: { 200: HealthSchema, 503: HealthSchema },
        },
      },
      async (_request: FastifyRequest, reply: FastifyReply) => {
        const r = ctx.backend.ready();
        const ok = r.scheduler && r.workers > 0;
        if (!ok) void reply.header('retry-after', '1');
        return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', scheduler: r.scheduler, workers: r.workers });
      },
    );
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['ops'],
          summary: 'Prometheus metrics',
          response: { 200: { description: 'Prometheus text exposition format', type: 'string' } },
        },
      },
      async (_request: FastifyRequest, reply: FastifyReply) => {
        const text = await registry.metrics();
        return reply.type(registry.contentType).send(text);
      },
    );
  };
}
