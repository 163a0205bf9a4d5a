/**
 * Route plugin: tenants, API keys, top-ups, plans and usage of the admin API
 * (SPEC.md §6). Admin-token auth is applied by the app that registers it
 * (`buildAdminApp`). Errors answer `{"error":{"code","message"}}`: ledger
 * errors keep their stable code and HTTP status.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import { LedgerError, LedgerUnavailableError, NOTIFICATION_EVENTS } from '../../ledger/index.js';
import type { ElasticRange, Ledger } from '../../ledger/index.js';

/** Options of {@link tenantRoutes}. */
export interface TenantRoutesOptions {
  ledger: Ledger;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([s, Type.Null()]);

const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), retryAfterS: Type.Optional(Type.Number()) }, { additionalProperties: true }),
});

const PlanName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' });
const TenantId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/** A plan (SPEC.md §7). */
export const PlanSchema = Type.Object({
  name: Type.String(),
  tokensPerHour: Type.Integer(),
  models: Nullable(Type.Array(Type.String())),
  overflow: Type.Union([Type.Literal('reject'), Type.Literal('best-effort')]),
});

/** Balances of a tenant. */
export const BalanceSchema = Type.Object({
  plan: Type.String(),
  tokensPerHour: Type.Integer(),
  usedThisHour: Type.Integer(),
  hourlyRemaining: Type.Integer(),
  topupBalance: Type.Integer(),
  remaining: Type.Integer(),
  resetAt: Type.String(),
});

const ElasticSchema = Type.Object({
  minPlan: Type.String(),
  maxPlan: Type.String(),
  belowHours: Type.Integer(),
  evaluatedHour: Nullable(Type.String()),
});

/** A tenant with its balances. */
export const TenantSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  createdAt: Type.String(),
  elastic: Nullable(ElasticSchema),
  balance: BalanceSchema,
});

const KeyInfoSchema = Type.Object({ id: Type.String(), tenantId: Type.String(), prefix: Type.String(), createdAt: Type.String() });

/** A tenant with its keys (no secrets), as `GET /v1/tenants/:id` answers. */
export const TenantDetailSchema = Type.Object({ ...TenantSchema.properties, keys: Type.Array(KeyInfoSchema) });

/** A created API key: the plaintext `key` appears here only. */
export const CreatedKeySchema = Type.Object({ key: Type.String(), ...KeyInfoSchema.properties });

const AuditSchema = Type.Object({
  at: Type.String(),
  tenantId: Type.String(),
  kind: Type.Union([Type.Literal('plan'), Type.Literal('topup')]),
  fromPlan: Type.Optional(Type.String()),
  toPlan: Type.Optional(Type.String()),
  tokens: Type.Optional(Type.Integer()),
  actor: Type.String(),
});

/** Usage report of a tenant. */
export const UsageSchema = Type.Object({
  tenantId: Type.String(),
  plan: Type.String(),
  elastic: Nullable(ElasticSchema),
  balance: BalanceSchema,
  hourly: Type.Array(
    Type.Object({ hour: Type.String(), model: Type.String(), tokens: Type.Integer(), refunded: Type.Integer(), frames: Type.Integer() }),
  ),
  changes: Type.Array(AuditSchema),
  refusals: Type.Array(Type.Object({ hour: Type.String(), reason: Type.String(), count: Type.Integer() })),
  notifications: Type.Array(Type.Object({ type: Type.String(), outcome: Type.String(), count: Type.Integer() })),
});

const EventName = Type.Union(NOTIFICATION_EVENTS.map((e) => Type.Literal(e)));

/** A tenant's webhook as shown (no secret). */
export const WebhookSchema = Type.Object({
  tenantId: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  threshold: Nullable(Type.Integer()),
  createdAt: Type.String(),
});

/** A webhook just set: the signing `secret` appears here only. */
export const WebhookSetSchema = Type.Object({ ...WebhookSchema.properties, secret: Type.String() });

/** One delivery attempt of the delivery log. */
export const DeliverySchema = Type.Object({
  eventId: Type.String(),
  type: Type.String(),
  attempt: Type.Integer(),
  at: Type.String(),
  outcome: Type.String(),
  status: Nullable(Type.Integer()),
  error: Type.Optional(Type.String()),
  durationMs: Type.Integer(),
});

const SetWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000 }),
    events: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: NOTIFICATION_EVENTS.length, uniqueItems: true })),
    threshold: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: TenantId });
const NameParams = Type.Object({ name: PlanName });
const CreateTenantBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    plan: Type.Optional(PlanName),
    id: Type.Optional(TenantId),
    elastic: Type.Optional(Type.Object({ minPlan: PlanName, maxPlan: PlanName }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const TopupBody = Type.Object({ tokens: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false });
const SetPlanBody = Type.Object(
  {
    plan: PlanName,
    /** true: opt in (needs minPlan and maxPlan); false: opt out; absent: unchanged. */
    elastic: Type.Optional(Type.Boolean()),
    minPlan: Type.Optional(PlanName),
    maxPlan: Type.Optional(PlanName),
  },
  { additionalProperties: false },
);
const PutPlanBody = Type.Object(
  {
    tokensPerHour: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    models: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1 }))),
    overflow: Type.Optional(Type.Union([Type.Literal('reject'), Type.Literal('best-effort')])),
  },
  { additionalProperties: false },
);

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody };

const LEDGER_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  ledger_unavailable: ErrorCode.ledgerUnavailable,
  not_found: ErrorCode.notFound,
  bad_request: ErrorCode.badRequest,
  conflict: ErrorCode.conflict,
  internal: ErrorCode.internal,
});

/** Maps a ledger error to the product's typed error (same stable code). */
export function fromLedgerError(err: LedgerError): YoloscaleError {
  return new YoloscaleError(LEDGER_CODES[err.code] ?? ErrorCode.internal, err.message, {
    cause: err,
    retryAfterS: err instanceof LedgerUnavailableError ? err.retryAfterS : undefined,
  });
}

/**
 * Registers `GET|POST /v1/tenants`, `GET /v1/tenants/:id`,
 * `POST /v1/tenants/:id/keys`, `POST /v1/tenants/:id/topup`,
 * `PUT /v1/tenants/:id/plan`, `GET /v1/tenants/:id/usage`, `GET /v1/plans`,
 * `PUT /v1/plans/:name`, and the tenant's webhook: `PUT|GET|DELETE
 * /v1/tenants/:id/webhook` and `GET /v1/tenants/:id/webhook/deliveries`.
 */
export const tenantRoutes: FastifyPluginAsync<TenantRoutesOptions> = async (app, opts) => {
  const ledger = opts.ledger;
  if (!ledger || typeof ledger.debit !== 'function') throw new TypeError('options.ledger must be a Ledger');

  app.setErrorHandler((err: FastifyError | Error, _req, reply) => {
    let e: YoloscaleError;
    if (err instanceof YoloscaleError) e = err;
    else if (err instanceof LedgerError) e = fromLedgerError(err);
    else if ('validation' in err && err.validation) e = new YoloscaleError(ErrorCode.badRequest, err.message);
    else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      e = new YoloscaleError(ErrorCode.badRequest, err.message);
    } else e = new YoloscaleError(ErrorCode.internal, 'internal error');
    if (e.retryAfterS !== undefined) reply.header('Retry-After', String(e.retryAfterS));
    return reply.status(e.httpStatus).send(e.toJSON());
  });

  const mustTenant = async (id: string) => {
    const tenant = await ledger.getTenant(id);
    if (!tenant) throw new YoloscaleError(ErrorCode.notFound, `no tenant "${id}"`);
    return tenant;
  };

  app.get('/v1/tenants', { schema: { response: { 200: Type.Object({ tenants: Type.Array(TenantSchema) }), 503: ErrorBody } } }, async () => ({
    tenants: await ledger.listTenants(),
  }));

  app.post<{ Body: Static<typeof CreateTenantBody> }>(
    '/v1/tenants',
    { schema: { body: CreateTenantBody, response: { 201: TenantSchema, ...errors } } },
    async (req, reply) => {
      const tenant = await ledger.createTenant(req.body);
      return reply.status(201).send(tenant);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id',
    { schema: { params: IdParams, response: { 200: TenantDetailSchema, ...errors } } },
    async (req) => {
      const tenant = await mustTenant(req.params.id);
      return { ...tenant, keys: await ledger.listApiKeys(tenant.id) };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id/keys',
    { schema: { params: IdParams, response: { 201: CreatedKeySchema, ...errors } } },
    async (req, reply) => reply.status(201).send(await ledger.createApiKey(req.params.id)),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof TopupBody> }>(
    '/v1/tenants/:id/topup',
    { schema: { params: IdParams, body: TopupBody, response: { 200: Type.Object({ tenantId: Type.String(), balance: BalanceSchema }), ...errors } } },
    async (req) => ({ tenantId: req.params.id, balance: await ledger.topup(req.params.id, req.body.tokens) }),
  );

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof SetPlanBody> }>(
    '/v1/tenants/:id/plan',
    { schema: { params: IdParams, body: SetPlanBody, response: { 200: TenantSchema, ...errors } } },
    async (req) => {
      const b = req.body;
      let elastic: ElasticRange | null | undefined;
      if (b.elastic === true) {
        if (b.minPlan === undefined || b.maxPlan === undefined) {
          throw new YoloscaleError(ErrorCode.badRequest, 'body.minPlan and body.maxPlan are required with elastic: true');
        }
        elastic = { minPlan: b.minPlan, maxPlan: b.maxPlan };
      } else if (b.elastic === false) {
        elastic = null;
      } else if (b.minPlan !== undefined || b.maxPlan !== undefined) {
        throw new YoloscaleError(ErrorCode.badRequest, 'body.minPlan and body.maxPlan need elastic: true');
      }
      return ledger.setPlan(req.params.id, b.plan, elastic === undefined ? {} : { elastic });
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id/usage',
    { schema: { params: IdParams, response: { 200: UsageSchema, ...errors } } },
    async (req) => {
      await mustTenant(req.params.id);
      return ledger.usage(req.params.id);
    },
  );

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof SetWebhookBody> }>(
    '/v1/tenants/:id/webhook',
    { schema: { params: IdParams, body: SetWebhookBody, response: { 200: WebhookSetSchema, ...errors } } },
    async (req) => {
      const b = req.body;
      return ledger.setWebhook(req.params.id, {
        url: b.url, ...(b.events !== undefined ? { events: b.events } : {}), ...(b.threshold !== undefined ? { threshold: b.threshold } : {}),
      });
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id/webhook',
    { schema: { params: IdParams, response: { 200: WebhookSchema, ...errors } } },
    async (req) => {
      await mustTenant(req.params.id);
      const hook = await ledger.getWebhook(req.params.id);
      if (!hook) throw new YoloscaleError(ErrorCode.notFound, `tenant "${req.params.id}" has no webhook`);
      const { secret: _secret, ...shown } = hook;
      return shown;
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id/webhook',
    { schema: { params: IdParams, response: { 200: Type.Object({ tenantId: Type.String(), removed: Type.Boolean() }), ...errors } } },
    async (req) => {
      await mustTenant(req.params.id);
      return { tenantId: req.params.id, removed: await ledger.deleteWebhook(req.params.id) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/tenants/:id/webhook/deliveries',
    { schema: { params: IdParams, response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema) }), ...errors } } },
    async (req) => {
      await mustTenant(req.params.id);
      return { deliveries: await ledger.deliveries(req.params.id) };
    },
  );

  app.get('/v1/plans', { schema: { response: { 200: Type.Object({ plans: Type.Array(PlanSchema) }), 503: ErrorBody } } }, async () => ({
    plans: await ledger.listPlans(),
  }));

  app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof PutPlanBody> }>(
    '/v1/plans/:name',
    { schema: { params: NameParams, body: PutPlanBody, response: { 200: PlanSchema, ...errors } } },
    async (req) => ledger.putPlan(req.params.name, req.body),
  );
};
