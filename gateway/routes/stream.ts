/**
 * Streaming (SPEC.md §5): `POST /v1/stream-tickets` trades a key for a
 * single-use 60 s ticket; `GET /v1/stream` is the WebSocket. Auth runs in an
 * onRequest hook before the upgrade; a failure is reported after the upgrade
 * as an error message and close code 4001, because browsers cannot read the
 * status of a refused upgrade.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ErrorCode, YoloscaleError, checkImageLimits, toYoloscaleError } from '../../protocol/index.js';
import type { DetectParams } from '../../protocol/index.js';
import type { Admitted, Principal } from '../admission.js';
import { extractKey } from '../auth.js';
import type { BackendModelInfo } from '../backend.js';
import { authHook, tokenHeadersHook } from '../context.js';
import type { GatewayContext } from '../context.js';
import { toHttpError } from '../errors.js';
import { checkClasses, parseDetectParams, resolveModel } from '../params.js';
import { ErrorBodySchema, StreamQuerySchema, TicketResponseSchema } from '../schemas.js';
import { StreamSession } from '../stream-session.js';
import type { FrameOutcome, StreamFrame } from '../stream-session.js';

/** WebSocket close codes of SPEC.md §5 (and the standard ones we use). */
export const CloseCode = Object.freeze({
  auth: 4001,
  modelNotInPlan: 4003,
  tokensExhausted: 4029,
  messageTooBig: 1009,
  policy: 1008,
  tryAgainLater: 1013,
});

const ERRORS = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema };

interface StreamConfig {
  model: BackendModelInfo;
  params: DetectParams;
}

function errorMessage(err: YoloscaleError): Record<string, unknown> {
  return { type: 'error', ...err.toJSON().error };
}

/** Sends an error message, then closes. */
function refuse(socket: WebSocket, err: YoloscaleError, closeCode: number): void {
  try {
    socket.send(JSON.stringify(errorMessage(err)));
  } finally {
    socket.close(closeCode, err.code);
  }
}

/** Route plugin of the ticket endpoint and the WebSocket stream. */
export function streamRoutes(ctx: GatewayContext) {
  const authErrors = new WeakMap<FastifyRequest, YoloscaleError>();

  async function streamAuth(request: FastifyRequest): Promise<void> {
    try {
      const ticket = (request.query as { ticket?: unknown }).ticket;
      if (typeof ticket === 'string' && ticket !== '') {
        const blocked = ctx.admission.blockedForS(request.ip);
        if (blocked > 0) throw new YoloscaleError(ErrorCode.rateLimited, 'too many failed authentications from this address', { retryAfterS: blocked });
        const principal = ctx.tickets.redeem(ticket);
        if (!principal) {
          ctx.admission.failedAuth(request.ip);
          throw new YoloscaleError(ErrorCode.unauthorized, 'invalid, used or expired stream ticket');
        }
        request.principal = principal;
      } else {
        request.principal = await ctx.admission.authenticate(extractKey(request.headers), request.ip);
      }
    } catch (err) {
      authErrors.set(request, toHttpError(err));
    }
  }

  async function runFrame(principal: Principal, streamId: string, cfg: StreamConfig, frame: StreamFrame): Promise<FrameOutcome> {
    let width: number;
    let height: number;
    try {
      ({ width, height } = checkImageLimits(frame.bytes));
    } catch (err) {
      const e = toYoloscaleError(err);
      return { kind: 'error', code: e.code, message: e.message };
    }
    let admitted: Admitted;
    try {
      admitted = await ctx.admission.admit({
        principal,
        model: cfg.model.id,
        modelTokens: cfg.model.tokensPerFrame,
        width,
        height,
        lane: 'realtime',
        frameId: `s-${streamId}-${frame.frame}`,
      });
    } catch (err) {
      const e = toYoloscaleError(err);
      if (e.code === ErrorCode.insufficientTokens) {
        // The close reason is limited to 123 bytes: the self-service fields travel in the error message sent before it.
        return {
          kind: 'close', code: e.code, message: e.message, closeCode: CloseCode.tokensExhausted,
          ...(e.retryAfterS !== undefined ? { retryAfterS: e.retryAfterS } : {}), ...(e.details ? { details: e.details } : {}),
        };
      }
      if (e.code === ErrorCode.modelNotInPlan) return { kind: 'close', code: e.code, message: e.message, closeCode: CloseCode.modelNotInPlan };
      return { kind: 'error', code: e.code, message: e.message, ...(e.retryAfterS !== undefined ? { retryAfterS: e.retryAfterS } : {}) };
    }
    try {
      const result = await ctx.backend.submit({
        image: frame.bytes,
        model: cfg.model.id,
        params: cfg.params,
        tenant: admitted.tenantId,
        weight: admitted.weight,
        cost: admitted.charged,
        lane: admitted.lane,
        deadlineMs: frame.receivedAt + ctx.limits.streamDeadlineMs,
        frameId: admitted.frameId,
      });
      ctx.metrics.frames.inc({ model: cfg.model.id, outcome: 'ok' });
      return {
        kind: 'detections',
        result: { ...result, tokens: { charged: admitted.charged, remaining: admitted.remaining, lane: admitted.lane } },
        refund: (reason) => ctx.admission.refund(admitted, reason),
      };
    } catch (err) {
      const e = toYoloscaleError(err);
      if (e.code === ErrorCode.deadlineExceeded) {
        await ctx.admission.refund(admitted, 'timeout');
        ctx.metrics.frames.inc({ model: cfg.model.id, outcome: 'stale' });
        return { kind: 'dropped', reason: 'stale' };
      }
      await ctx.admission.refund(admitted, 'failed');
      ctx.metrics.frames.inc({ model: cfg.model.id, outcome: 'failed' });
      return { kind: 'error', code: e.code, message: e.message, ...(e.retryAfterS !== undefined ? { retryAfterS: e.retryAfterS } : {}) };
    }
  }

  function configFrom(raw: Record<string, unknown>, base: StreamConfig | null): StreamConfig {
    const { model, params } = parseDetectParams(raw);
    const info = model === undefined && base ? base.model : resolveModel(model, ctx.backend.models());
    checkClasses(params, info);
    return { model: info, params: base && model === undefined ? { ...base.params, ...params } : params };
  }

  function handleStream(socket: WebSocket, request: FastifyRequest): void {
    const authError = authErrors.get(request);
    const principal = request.principal;
    if (authError || !principal) {
      const e = authError ?? new YoloscaleError(ErrorCode.unauthorized, 'missing API key or stream ticket');
      refuse(socket, e, e.code === ErrorCode.ledgerUnavailable ? CloseCode.tryAgainLater : CloseCode.auth);
      return;
    }
    const { ticket: _ticket, ...query } = request.query as Record<string, unknown>;
    let cfg: StreamConfig;
    try {
      cfg = configFrom(query, null);
    } catch (err) {
      refuse(socket, toYoloscaleError(err), CloseCode.policy);
      return;
    }
    if (!ctx.admission.allows(principal, cfg.model.id)) {
      refuse(socket, new YoloscaleError(ErrorCode.modelNotInPlan, `model ${cfg.model.id} is not in plan ${principal.plan.name}`), CloseCode.modelNotInPlan);
      return;
    }
    const tenantId = principal.tenantId;
    const open = ctx.streamsByTenant.get(tenantId) ?? 0;
    if (open >= ctx.limits.maxStreamsPerTenant) {
      refuse(socket, new YoloscaleError(ErrorCode.rateLimited, `at most ${ctx.limits.maxStreamsPerTenant} concurrent streams per tenant`), CloseCode.policy);
      return;
    }
    ctx.streamsByTenant.set(tenantId, open + 1);
    ctx.metrics.streamsOpen.inc();
    const streamId = randomUUID().slice(0, 13);
    const log = request.log.child({ stream: streamId, tenant: tenantId });
    const session = new StreamSession({
      sink: socket,
      maxBufferedBytes: ctx.limits.streamMaxBufferedBytes,
      staleAfterMs: ctx.limits.streamDeadlineMs,
      now: ctx.now,
      runFrame: (frame) => runFrame(principal, streamId, cfg, frame),
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      session.close();
      const n = (ctx.streamsByTenant.get(tenantId) ?? 1) - 1;
      if (n <= 0) ctx.streamsByTenant.delete(tenantId);
      else ctx.streamsByTenant.set(tenantId, n);
      ctx.metrics.streamsOpen.dec();
      log.debug({ stats: session.stats }, 'stream closed');
    };
    socket.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) {
        session.push(bytes);
        return;
      }
      try {
        let msg: unknown;
        try {
          msg = JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new YoloscaleError(ErrorCode.badRequest, 'text messages must be JSON {"type":"config",...}; send images as binary messages');
        }
        if (msg === null || typeof msg !== 'object' || (msg as { type?: unknown }).type !== 'config') {
          throw new YoloscaleError(ErrorCode.badRequest, 'unknown message type: only {"type":"config",...} is accepted');
        }
        const { type: _type, ...raw } = msg as Record<string, unknown>;
        const next = configFrom(raw, cfg);
        if (!ctx.admission.allows(principal, next.model.id)) {
          session.notice(errorMessage(new YoloscaleError(ErrorCode.modelNotInPlan, `model ${next.model.id} is not in plan ${principal.plan.name}`)));
          socket.close(CloseCode.modelNotInPlan, ErrorCode.modelNotInPlan);
          return;
        }
        cfg = next;
        session.notice({ type: 'config', model: cfg.model.id, ...cfg.params });
      } catch (err) {
        session.notice(errorMessage(toYoloscaleError(err)));
      }
    });
    socket.on('close', release);
    socket.on('error', (err) => {
      log.debug({ err }, 'stream socket error');
      release();
    });
    log.debug({ model: cfg.model.id }, 'stream opened');
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    await app.register(async (tickets) => {
      tickets.addHook('onRequest', authHook(ctx));
      tickets.addHook('onSend', tokenHeadersHook(ctx));
      tickets.post(
        '/v1/stream-tickets',
        {
          schema: {
            tags: ['streaming'],
            summary: 'Trade the API key for a single-use stream ticket valid 60 s (browsers never put keys in URLs)',
            security: [{ apiKey: [] }, { bearer: [] }],
            response: { 200: TicketResponseSchema, ...ERRORS },
          },
        },
        async (request: FastifyRequest) => {
          const { ticket, expiresAt } = ctx.tickets.issue(request.principal!);
          return { ticket, expiresAt: new Date(expiresAt).toISOString() };
        },
      );
    });
    // Declared with wsHandler (not `websocket: true`) so the route stays in the OpenAPI document;
    // a plain GET without the upgrade gets 426.
    app.route({
      method: 'GET',
      url: '/v1/stream',
      onRequest: streamAuth,
      schema: {
        tags: ['streaming'],
        summary: 'WebSocket stream of frames (binary messages) in, detections out',
        description:
          'Authenticate with `?ticket=T` (from POST /v1/stream-tickets) or the key header. Send one encoded image per binary ' +
          'message and optionally text `{"type":"config","model":…,"conf":…}`. The server answers every frame n with ' +
          '`{"type":"detections","frame":n,…}`, `{"type":"dropped","frame":n,"reason":"stale|replaced"}` (not charged) or ' +
          '`{"type":"error","frame":n,"code":…}`, in frame order. Latest frame wins: at most 2 frames of a stream are in the ' +
          'system. Close codes: 4001 auth, 4003 model not in plan, 4029 tokens exhausted, 1009 message too big, ' +
          '1008 policy (bad parameters, too many streams).',
        querystring: StreamQuerySchema,
        response: { 426: ErrorBodySchema, ...ERRORS },
      },
      handler: async (_request, reply) =>
        reply
          .code(426)
          .header('upgrade', 'websocket')
          .send({ error: { code: ErrorCode.badRequest, message: 'GET /v1/stream is a WebSocket endpoint: send an Upgrade: websocket request' } }),
      wsHandler: handleStream,
    });
  };
}
