import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import type { Autoscaler } from './reconciler.js';

/**
 * Route plugin of the admin API for the pool (SPEC.md §6): `GET|PUT /v1/pool`,
 * `GET /v1/pool/forecast`, `POST /v1/nodes/provision`. Register it with
 * `buildAdminApp({ plugins: [{ plugin: poolRoutes, opts: { autoscaler } }] })`
 * so the admin token guards it.
 */

const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true }),
});

const Decision = Type.Object({
  at: Type.String(),
  kind: Type.String(),
  id: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  count: Type.Optional(Type.Integer()),
  requestId: Type.Optional(Type.String()),
  reason: Type.String(),
});

/** `GET /v1/pool`. */
export const PoolSchema = Type.Object({
  provider: Type.String(),
  leadTimeS: Type.Number(),
  intervalS: Type.Number(),
  min: Type.Integer(),
  max: Type.Integer(),
  nodeType: Type.String(),
  targetUtilisation: Type.Number(),
  idleTimeoutS: Type.Number(),
  cooldownS: Type.Number(),
  nodes: Type.Record(Type.String(), Type.Integer()),
  capacity: Type.Record(Type.String(), Type.Number()),
  needTokensPerS: Type.Number(),
  decisions: Type.Array(Decision),
});

/** `PUT /v1/pool` body. */
export const PoolUpdateSchema = Type.Object(
  { min: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })), max: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) },
  { additionalProperties: false, minProperties: 1 },
);

/** `GET /v1/pool/forecast`. */
export const ForecastSchema = Type.Object({
  at: Type.String(),
  horizonS: Type.Number(),
  method: Type.String(),
  total: Type.Object({
    last: Type.Number(),
    peakPoint: Type.Number(),
    peakUpper: Type.Number(),
    buckets: Type.Array(Type.Object({ start: Type.String(), point: Type.Number(), upper: Type.Number() })),
  }),
  models: Type.Record(
    Type.String(),
    Type.Object({ method: Type.String(), last: Type.Number(), peakPoint: Type.Number(), peakUpper: Type.Number() }),
  ),
});

/** `POST /v1/nodes/provision` body and answer. */
export const ProvisionSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 64 }),
    count: Type.Integer({ minimum: 1, maximum: 1000 }),
    requestId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
const ProvisionAnswer = Type.Object({ provider: Type.String(), requestId: Type.String(), ids: Type.Array(Type.String()), errors: Type.Array(Type.String()) });

/** Options of {@link poolRoutes}. */
export interface PoolRoutesOptions {
  autoscaler: Autoscaler;
}

/** Registers the pool routes. */
export const poolRoutes: FastifyPluginAsync<PoolRoutesOptions> = async (app, opts) => {
  const { autoscaler } = opts;
  app.get('/v1/pool', { schema: { response: { 200: PoolSchema } } }, async () => autoscaler.pool());
  app.put<{ Body: { min?: number; max?: number } }>(
    '/v1/pool',
    {
      schema: { body: PoolUpdateSchema, response: { 200: PoolSchema, 400: ErrorBody } },
      // Fastify's validator strips unknown keys; an unknown key here is a mistake worth reporting.
      preValidation: async (req) => {
        const body = req.body;
        const extra = body && typeof body === 'object' ? Object.keys(body).filter((k) => k !== 'min' && k !== 'max') : [];
        if (extra.length > 0) throw new YoloscaleError(ErrorCode.badRequest, `unknown field ${extra[0]} (allowed: min, max)`);
      },
    },
    async (req) => autoscaler.setPool(req.body),
  );
  app.get('/v1/pool/forecast', { schema: { response: { 200: ForecastSchema } } }, async () => autoscaler.forecast());
  app.post<{ Body: { type: string; count: number; requestId?: string } }>(
    '/v1/nodes/provision',
    { schema: { body: ProvisionSchema, response: { 200: ProvisionAnswer, 409: ErrorBody, 503: ErrorBody } } },
    async (req) => autoscaler.provision(req.body.type, req.body.count, req.body.requestId),
  );
};
