/**
 * What every route plugin of the gateway shares, and the per-request state
 * the auth hook attaches.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DetectionResult } from '../protocol/index.js';
import type { Admission, Principal } from './admission.js';
import type { TicketStore } from './auth.js';
import { extractKey } from './auth.js';
import type { DetectionBackend } from './backend.js';
import { sendError, toHttpError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

/** Draws a result's boxes on the image and encodes a JPEG. */
export type AnnotateFn = (image: Uint8Array, result: DetectionResult) => Promise<Buffer>;

/** Resolved limits (see `GatewayLimits` in options.ts). */
export interface ResolvedLimits {
  restDeadlineMs: number;
  streamDeadlineMs: number;
  maxStreamsPerTenant: number;
  streamMaxBufferedBytes: number;
  streamMaxPayloadBytes: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
}

/** Shared services of the route plugins. */
export interface GatewayContext {
  backend: DetectionBackend;
  admission: Admission;
  metrics: GatewayMetrics;
  tickets: TicketStore<Principal>;
  annotate: AnnotateFn;
  limits: ResolvedLimits;
  now: () => number;
  /** Open streams per tenant id. */
  streamsByTenant: Map<string, number>;
}

/** Token state reported in `X-Tokens-Remaining` / `X-Tokens-Reset`. */
export interface TokenState {
  remaining: number;
  /** ISO-8601 start of the next UTC hour. */
  resetAt: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller, set by the auth hook (null on public routes). */
    principal: Principal | null;
    /** Balance to report in the token headers, updated by handlers after a debit. */
    tokenState: TokenState | null;
  }
}

/**
 * onRequest hook of authenticated routes: resolves the key to a tenant or
 * answers 401/429/503 before the body is read.
 */
export function authHook(ctx: GatewayContext) {
  return async function auth(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      request.principal = await ctx.admission.authenticate(extractKey(request.headers), request.ip);
    } catch (err) {
      await sendError(reply, toHttpError(err));
    }
  };
}

/**
 * onSend hook: the token headers on every authenticated response. Handlers
 * that debited set `request.tokenState`; otherwise the balance is read.
 */
export function tokenHeadersHook(ctx: GatewayContext) {
  return async function tokenHeaders(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    if (!request.tokenState && request.principal) {
      try {
        const b = await ctx.admission.balance(request.principal);
        request.tokenState = { remaining: b.remaining, resetAt: b.resetAt };
      } catch {
        // Ledger down: the answer (often 503 ledger_unavailable) goes without token headers.
      }
    }
    const state = request.tokenState;
    if (!state) return payload;
    void reply.header('x-tokens-remaining', String(state.remaining));
    void reply.header('x-tokens-reset', String(Math.floor(Date.parse(state.resetAt) / 1000)));
    return payload;
  };
}
