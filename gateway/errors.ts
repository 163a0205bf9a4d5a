/**
 * One place that turns anything thrown while serving a request into the JSON
 * error body of SPEC.md §5 (`{"error":{"code","message",…}}`) with the right
 * status and `Retry-After`.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, YoloscaleError, toYoloscaleError } from '../protocol/index.js';

/** Fastify error codes and what they mean to our clients. */
const FASTIFY_CODES: Readonly<Record<string, [ErrorCode, string]>> = Object.freeze({
  FST_ERR_CTP_BODY_TOO_LARGE: [ErrorCode.tooLarge, 'request body is too large'],
  FST_REQ_FILE_TOO_LARGE: [ErrorCode.tooLarge, 'uploaded image is too large'],
  FST_PARTS_LIMIT: [ErrorCode.tooLarge, 'too many multipart parts'],
  FST_FILES_LIMIT: [ErrorCode.badRequest, 'send exactly one file in the field "image"'],
  FST_FIELDS_LIMIT: [ErrorCode.badRequest, 'too many multipart fields'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [ErrorCode.unsupportedMediaType, 'unsupported content type'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [ErrorCode.unsupportedMediaType, 'request is not multipart'],
  FST_ERR_CTP_INVALID_JSON_BODY: [ErrorCode.badRequest, 'malformed JSON body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [ErrorCode.badRequest, 'empty JSON body'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [ErrorCode.badRequest, 'content length does not match the body'],
  FST_ERR_CTP_EMPTY_TYPE: [ErrorCode.unsupportedMediaType, 'missing content type'],
  FST_ERR_CTP_INVALID_TYPE: [ErrorCode.unsupportedMediaType, 'invalid content type'],
});

/** Maps any error (ours, fastify's, a plugin's) to a {@link YoloscaleError}. */
export function toHttpError(err: unknown): YoloscaleError {
  if (err instanceof YoloscaleError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (fe && typeof fe === 'object') {
    if (fe.validation) {
      return new YoloscaleError(ErrorCode.badRequest, `invalid request: ${fe.message ?? 'validation failed'}`);
    }
    const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (known) return new YoloscaleError(known[0], known[1], { cause: err });
    if (err instanceof SyntaxError) return new YoloscaleError(ErrorCode.badRequest, 'malformed JSON body', { cause: err });
    const status = fe.statusCode;
    if (status === 413) return new YoloscaleError(ErrorCode.tooLarge, fe.message ?? 'too large', { cause: err });
    if (status === 415) return new YoloscaleError(ErrorCode.unsupportedMediaType, fe.message ?? 'unsupported media type', { cause: err });
    if (status === 404) return new YoloscaleError(ErrorCode.notFound, fe.message ?? 'not found', { cause: err });
    if (status !== undefined && status >= 400 && status < 500) {
      return new YoloscaleError(ErrorCode.badRequest, fe.message ?? 'bad request', { cause: err });
    }
  }
  return toYoloscaleError(err);
}

/** Sends `err` as the JSON error body, with `Retry-After` where it has a retry hint. */
export function sendError(reply: FastifyReply, err: YoloscaleError): FastifyReply {
  if (err.retryAfterS !== undefined) void reply.header('retry-after', String(Math.max(0, Math.ceil(err.retryAfterS))));
  else if (err.httpStatus === 503 || err.httpStatus === 429) void reply.header('retry-after', '1');
  return reply.code(err.httpStatus).type('application/json; charset=utf-8').send(err.toJSON());
}

/** Fastify error handler: logs server faults (never request headers) and answers with the JSON body. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = toHttpError(err);
  if (e.httpStatus >= 500 && e.code === ErrorCode.internal) request.log.error({ err }, 'request failed');
  else request.log.debug({ code: e.code }, 'request refused');
  return sendError(reply, e);
}

/** Fastify not-found handler: `404 not_found` in the JSON error shape. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, new YoloscaleError(ErrorCode.notFound, `no route ${request.method} ${request.url.split('?')[0]}`));
}
