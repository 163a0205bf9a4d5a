/**
 * `POST /v1/detect` (SPEC.md §5): one image in (raw body, multipart field
 * `image`, or JSON base64), detections out (or the annotated JPEG). Order of
 * checks: auth (hook) → body and parameters → model → header probe (size,
 * pixels) → debit → backend → refund on failure.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { ErrorCode, MAX_IMAGE_BYTES, YoloscaleError, checkImageLimits, isYoloscaleError } from '../../protocol/index.js';
import type { DetectionResult, DetectParams } from '../../protocol/index.js';
import type { Admitted } from '../admission.js';
import { authHook, tokenHeadersHook } from '../context.js';
import type { GatewayContext } from '../context.js';
import { checkClasses, parseDetectParams, resolveModel } from '../params.js';
import { DetectJsonBodySchema, DetectParamsSchema, DetectionResultSchema, ErrorBodySchema } from '../schemas.js';

/** Raw image content types accepted as a request body. */
export const IMAGE_CONTENT_TYPES = Object.freeze(['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream']);

/** JSON bodies carry base64 (4/3 of the bytes) plus a little room for parameters. */
const JSON_BODY_LIMIT = Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 64 * 1024;

const BINARY = { description: 'encoded image bytes (JPEG, PNG or WebP)' };
const ERRORS = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema };

/** What the three body forms reduce to. */
interface DetectInput {
  image: Buffer;
  raw: Record<string, unknown>;
}

function badRequest(message: string): YoloscaleError {
  return new YoloscaleError(ErrorCode.badRequest, message);
}

async function readMultipart(request: FastifyRequest): Promise<DetectInput> {
  try {
    return await readParts(request);
  } catch (err) {
    // Errors of the multipart parser itself (busboy: no boundary, truncated body, bad part headers) carry
    // no code: the body is malformed. Ours and @fastify/multipart's limits (FST_*) keep their meaning.
    if (err instanceof YoloscaleError || (err as { code?: unknown }).code !== undefined) throw err;
    throw new YoloscaleError(ErrorCode.badRequest, `malformed multipart body: ${(err as Error).message}`, { cause: err });
  }
}

async function readParts(request: FastifyRequest): Promise<DetectInput> {
  let image: Buffer | undefined;
  const raw: Record<string, unknown> = {};
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || image !== undefined) {
        await part.toBuffer().catch(() => undefined);
        throw badRequest(`unexpected file field "${part.fieldname}": send one file in the field "image"`);
      }
      image = await part.toBuffer();
    } else {
      if (typeof part.value !== 'string') throw badRequest(`field "${part.fieldname}" must be text`);
      raw[part.fieldname] = part.value;
    }
  }
  if (!image) throw badRequest('multipart body has no file field "image"');
  return { image, raw };
}

function readJson(body: unknown): DetectInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('JSON body must be an object {"image":"<base64>"}');
  const { image, ...raw } = body as Record<string, unknown>;
  if (typeof image !== 'string' || image.length === 0) throw badRequest('JSON body needs "image": a base64 string');
  const b64 = image.replace(/^data:[^,]*;base64,/, '');
  if (!/^[A-Za-z0-9+/_\-=\s]*$/.test(b64)) throw new YoloscaleError(ErrorCode.badImage, '"image" is not valid base64');
  return { image: Buffer.from(b64, 'base64'), raw };
}

async function readInput(request: FastifyRequest): Promise<DetectInput> {
  if (request.isMultipart()) return readMultipart(request);
  const body = request.body;
  if (Buffer.isBuffer(body)) return { image: body, raw: {} };
  if (body === undefined || body === null) throw badRequest('send an image: raw body, multipart field "image" or JSON {"image":"<base64>"}');
  return readJson(body);
}

function wantsJpeg(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && /(^|,)\s*image\/jpeg\b/i.test(accept);
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw badRequest('Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return key;
}

/** Route plugin of `POST /v1/detect`. */
export function detectRoutes(ctx: GatewayContext) {
  /** Results of idempotent requests still running here, so a concurrent repeat waits for the first. */
  const running = new Map<string, Promise<string>>();

  async function replay(admitted: Admitted, key: string): Promise<DetectionResult> {
    let json = admitted.storedResult ?? undefined;
    if (json === undefined) {
      const first = running.get(`${admitted.tenantId}\n${key}`);
      if (!first) {
        throw new YoloscaleError(ErrorCode.conflict, 'a request with this Idempotency-Key is still running; retry shortly', { retryAfterS: 1 });
      }
      json = await first;
    }
    return JSON.parse(json) as DetectionResult;
  }

  /** Admits, runs (or replays) one request; `admitted` is absent for idempotent replays. */
  async function run(request: FastifyRequest, input: DetectInput): Promise<{ result: DetectionResult; admitted?: Admitted }> {
    const principal = request.principal!;
    const { model: requested, params } = parseDetectParams({ ...(request.query as Record<string, unknown>), ...input.raw });
    const model = resolveModel(requested, ctx.backend.models());
    checkClasses(params, model);
    const header = checkImageLimits(input.image);
    const key = idempotencyKeyOf(request);
    const admitted = await ctx.admission.admit({
      principal,
      model: model.id,
      modelTokens: model.tokensPerFrame,
      width: header.width,
      height: header.height,
      lane: 'standard',
      frameId: `r-${randomUUID()}`,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
    });
    request.tokenState = { remaining: admitted.remaining, resetAt: admitted.resetAt };
    if (admitted.duplicate === 'idempotency' && key !== undefined) return { result: await replay(admitted, key) };

    const work = submit(admitted, input.image, params).catch((err: unknown) => {
      request.tokenState = { remaining: admitted.remaining, resetAt: admitted.resetAt };
      throw err;
    });
    if (key === undefined) return { result: await work, admitted };
    const slot = `${admitted.tenantId}\n${key}`;
    const json = work.then((r) => JSON.stringify(r));
    json.catch(() => {});
    running.set(slot, json);
    try {
      const result = await work;
      await ctx.admission.storeResult(admitted, key, await json);
      return { result, admitted };
    } finally {
      running.delete(slot);
    }
  }

  async function submit(admitted: Admitted, image: Buffer, params: DetectParams): Promise<DetectionResult> {
    let result: DetectionResult;
    try {
      result = await ctx.backend.submit({
        image,
        model: admitted.model,
        params,
        tenant: admitted.tenantId,
        weight: admitted.weight,
        cost: admitted.charged,
        lane: admitted.lane,
        deadlineMs: ctx.now() + ctx.limits.restDeadlineMs,
        frameId: admitted.frameId,
      });
    } catch (err) {
      const timeout = isYoloscaleError(err, ErrorCode.deadlineExceeded);
      await ctx.admission.refund(admitted, timeout ? 'timeout' : 'failed');
      ctx.metrics.frames.inc({ model: admitted.model, outcome: timeout ? 'timeout' : 'failed' });
      throw err;
    }
    ctx.metrics.frames.inc({ model: admitted.model, outcome: 'ok' });
    return { ...result, tokens: { charged: admitted.charged, remaining: admitted.remaining, lane: admitted.lane } };
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    await app.register(multipart, {
      limits: { fileSize: MAX_IMAGE_BYTES, files: 1, fields: 10, fieldSize: 4096, parts: 12, headerPairs: 100 },
    });
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(IMAGE_CONTENT_TYPES as string[], { parseAs: 'buffer', bodyLimit: MAX_IMAGE_BYTES }, (_req, body, done) => {
      done(null, body);
    });
    app.addHook('onRequest', authHook(ctx));
    app.addHook('onSend', tokenHeadersHook(ctx));

    app.post(
      '/v1/detect',
      {
        bodyLimit: JSON_BODY_LIMIT,
        schema: {
          tags: ['detection'],
          summary: 'Detect objects in one image',
          description:
            'Send the image as a raw body (image/jpeg, image/png, image/webp), as multipart/form-data field `image`, ' +
            'or as JSON `{"image":"<base64>"}`. Parameters go in the query or in form/JSON fields. ' +
            '`Accept: image/jpeg` returns the image with the boxes drawn. A repeat with the same `Idempotency-Key` ' +
            'within 24 h returns the first result and charges nothing.',
          security: [{ apiKey: [] }, { bearer: [] }],
          querystring: DetectParamsSchema,
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', maxLength: 255 } },
          },
          body: {
            content: {
              'application/json': { schema: DetectJsonBodySchema },
              'image/jpeg': { schema: BINARY },
              'image/png': { schema: BINARY },
              'image/webp': { schema: BINARY },
              'multipart/form-data': { schema: { description: 'field `image` (file) plus optional parameter fields' } },
            },
          },
          response: {
            200: {
              description: 'detection result (SPEC §3), or the annotated JPEG with `Accept: image/jpeg`',
              content: {
                'application/json': { schema: DetectionResultSchema },
                'image/jpeg': { schema: { description: 'annotated JPEG' } },
              },
            },
            ...ERRORS,
          },
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const input = await readInput(request);
        const { result, admitted } = await run(request, input);
        if (wantsJpeg(request)) {
          let jpeg: Buffer;
          try {
            jpeg = await ctx.annotate(input.image, result);
          } catch (err) {
            // Nothing usable was delivered: give the tokens back (a replay charged nothing).
            if (admitted) await ctx.admission.refund(admitted, 'failed');
            throw err;
          }
          return reply.type('image/jpeg').header('x-detections', String(result.detections.length)).send(jpeg);
        }
        return reply.type('application/json; charset=utf-8').send(result);
      },
    );
  };
}
