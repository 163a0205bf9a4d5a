/** JSON schemas of the admin API's node and queue routes (TypeBox). */
import { Type } from '@sinclair/typebox';

/** `{"error":{"code","message",...}}` (SPEC.md §5). */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), retryAfterS: Type.Optional(Type.Number()) }, { additionalProperties: true }),
});

/** One node as `GET /v1/nodes/:id` shows it. */
export const NodeSchema = Type.Object({
  id: Type.String(),
  state: Type.String(),
  type: Type.Union([Type.String(), Type.Null()]),
  device: Type.String(),
  threads: Type.Integer(),
  slots: Type.Integer(),
  inFlight: Type.Integer(),
  loaded: Type.Array(Type.String()),
  models: Type.Array(Type.String()),
  host: Type.String(),
  pid: Type.Integer(),
  registeredAt: Type.String(),
  stateSince: Type.String(),
  lastSeenMsAgo: Type.Number(),
  framesDone: Type.Integer(),
});

/** What the node provider did for an operator's retire (present when autoscaling is on). */
export const ProviderReport = Type.Object({
  provider: Type.String(),
  /** The provider's terminate request, absent when the node is not one of the provider's instances. */
  requestId: Type.Optional(Type.String()),
  terminated: Type.Boolean(),
  errors: Type.Array(Type.String()),
});

/** `POST /v1/nodes/:id/retire`: the node, plus the provider's report when autoscaling is on. */
export const RetiredNodeSchema = Type.Intersect([NodeSchema, Type.Object({ provider: Type.Optional(ProviderReport) })]);

/** `GET /v1/nodes`. */
export const NodeListSchema = Type.Object({ nodes: Type.Array(NodeSchema) });

/** `:id` of node routes. */
export const NodeParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

/** `:action` of node routes. */
export const NodeActionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  action: Type.Union([Type.Literal('cordon'), Type.Literal('uncordon'), Type.Literal('drain'), Type.Literal('retire')]),
});

/** `GET /v1/queue`. */
export const QueueSchema = Type.Object({
  lanes: Type.Object({ realtime: Type.Integer(), standard: Type.Integer(), 'best-effort': Type.Integer() }),
  retry: Type.Integer(),
  batching: Type.Integer(),
  inFlight: Type.Integer(),
  maxBatch: Type.Integer(),
  maxDelayMs: Type.Number(),
});
