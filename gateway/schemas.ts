/**
 * TypeBox schemas of the gateway's routes. They validate requests, shape the
 * responses (fast-json-stringify) and generate `/openapi.json`.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';

/** Error body of SPEC.md §5. Extra fields (`retryAfterS`, …) are allowed. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'stable error code, e.g. insufficient_tokens' }),
        message: Type.String(),
        retryAfterS: Type.Optional(Type.Number()),
      },
      { additionalProperties: true },
    ),
  },
  { $id: 'ErrorBody', description: 'JSON error of SPEC.md §5' },
);

const BoxSchema = Type.Object({ x1: Type.Number(), y1: Type.Number(), x2: Type.Number(), y2: Type.Number() });

const DetectionSchema = Type.Object({
  class: Type.String(),
  classId: Type.Integer(),
  score: Type.Number(),
  box: BoxSchema,
});

/** Token accounting block of a result. */
export const TokensSchema = Type.Object({
  charged: Type.Number(),
  remaining: Type.Number(),
  lane: Type.Union([Type.Literal('realtime'), Type.Literal('standard'), Type.Literal('best-effort')]),
});

/** Detection result of SPEC.md §3. */
export const DetectionResultSchema = Type.Object(
  {
    model: Type.String(),
    image: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
    detections: Type.Array(DetectionSchema),
    timing: Type.Object({ queueMs: Type.Number(), inferMs: Type.Number(), totalMs: Type.Number() }),
    tokens: Type.Optional(TokensSchema),
  },
  { $id: 'DetectionResult' },
);

/**
 * Detection parameters as they arrive in a query string, multipart fields or
 * a JSON body. `classes` is a comma-separated list of names or ids.
 */
export const DetectParamsSchema = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' })),
    conf: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    iou: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    classes: Type.Optional(Type.String({ maxLength: 2048 })),
    maxDet: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/** Parsed detection parameters (before `classes` is split). */
export type DetectParamsInput = Static<typeof DetectParamsSchema>;

/** JSON body form of `POST /v1/detect`: base64 image plus optional parameters. */
export const DetectJsonBodySchema = Type.Object(
  {
    image: Type.String({ minLength: 1, description: 'base64-encoded JPEG, PNG or WebP' }),
    model: Type.Optional(Type.String()),
    conf: Type.Optional(Type.Number()),
    iou: Type.Optional(Type.Number()),
    classes: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Union([Type.String(), Type.Integer()]))])),
    maxDet: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

/** One model of `GET /v1/models`. */
export const ModelInfoSchema = Type.Object({
  id: Type.String(),
  tokensPerFrame: Type.Number(),
  inputSize: Type.Optional(Type.Integer()),
  family: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  default: Type.Boolean(),
  allowed: Type.Optional(Type.Boolean({ description: "whether the caller's plan allows it (when authenticated)" })),
});

/** `GET /v1/models` answer. */
export const ModelsResponseSchema = Type.Object({ models: Type.Array(ModelInfoSchema) });

/** `POST /v1/stream-tickets` answer. */
export const TicketResponseSchema = Type.Object({
  ticket: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});

/** `GET /v1/stream` query. */
export const StreamQuerySchema = Type.Object(
  {
    ticket: Type.Optional(Type.String({ maxLength: 256 })),
    model: Type.Optional(Type.String({ maxLength: 128 })),
    conf: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    iou: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    classes: Type.Optional(Type.String({ maxLength: 2048 })),
    maxDet: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/** Anything-object schema for answers whose shape the ledger owns (`/v1/usage`). */
export const OpenObjectSchema = Type.Object({}, { additionalProperties: true });

/** `/healthz` and `/readyz` answer. */
export const HealthSchema = Type.Object({
  status: Type.String(),
  scheduler: Type.Optional(Type.Boolean()),
  workers: Type.Optional(Type.Integer()),
  ledger: Type.Optional(Type.Boolean()),
});
