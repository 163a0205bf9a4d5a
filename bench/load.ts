/**
 * Client-side traffic for the cluster soak and the chaos suite (issue #8):
 * REST loops that tag every request with an `Idempotency-Key` and retry it
 * (same key) when the gateway cannot be reached, WebSocket streams that keep
 * at most two frames in flight and reconnect when the socket closes, and the
 * bookkeeping both need: per-request outcomes, error codes, latencies, and
 * the resident memory of cluster processes.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ErrorCode, YoloscaleError } from '../protocol/index.js';

/** A tenant's API key as the load clients use it. */
export interface TenantKey {
  tenantId: string;
  key: string;
}

/** Final outcome of one logical REST request (one `Idempotency-Key`). */
export interface RestRecord {
  tenantId: string;
  idempotencyKey: string;
  /** HTTP status of the last attempt; 0 when the gateway never answered. */
  status: number;
  /** Error code of the last attempt (`error.code`, or `unreachable`). */
  code?: string;
  /** `tokens.charged` of a 200 answer. */
  charged?: number;
  /** HTTP attempts made with this key. */
  attempts: number;
}

/** What the load clients saw, shared by every client of a run. */
export class LoadTally {
  /** Logical REST requests by idempotency key. */
  readonly rest = new Map<string, RestRecord>();
  /** Stream frames answered with detections, and the tokens they said were charged, by tenant. */
  readonly streamDelivered = new Map<string, { frames: number; tokens: number }>();
  /** Errors by code: REST answers other than 200, stream `error` messages and refusing closes. */
  readonly errors: Record<string, number> = {};
  /** The same errors by HTTP status (a stream error by its code's status, close 4029 as 429; `0`: unreachable). */
  readonly errorsByStatus: Record<string, number> = {};
  /** Stream frames dropped (`stale`/`replaced`, never charged). */
  dropped = 0;
  /** Answered frames (REST 200 + stream detections). */
  answered = 0;
  /** Round trips of answered frames, ms, since the last {@link resetLatencies}. */
  latenciesMs: number[] = [];

  /** Counts one error by code and HTTP status. */
  error(code: string, status: number): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.errorsByStatus[status] = (this.errorsByStatus[status] ?? 0) + 1;
  }

  /** Records one answered frame and its round trip. */
  answer(latencyMs: number): void {
    this.answered++;
    this.latenciesMs.push(latencyMs);
  }

  /** Forgets latencies and errors (end of warm-up). */
  resetLatencies(): void {
    this.latenciesMs = [];
    for (const k of Object.keys(this.errors)) delete this.errors[k];
    for (const k of Object.keys(this.errorsByStatus)) delete this.errorsByStatus[k];
  }

  /** Adds a stream frame answered with detections. */
  streamAnswer(tenantId: string, charged: number): void {
    const d = this.streamDelivered.get(tenantId) ?? { frames: 0, tokens: 0 };
    d.frames++;
    d.tokens += charged;
    this.streamDelivered.set(tenantId, d);
  }
}

/** A running load client. */
export interface LoadClient {
  /** Asks it to stop; resolves once its last frame settled (or `graceMs` passed). */
  stop(graceMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Options of {@link restLoop}. */
export interface RestLoopOptions {
  /** Gateway base URL (read at each attempt: the gateway may move). */
  url: () => string;
  tenant: TenantKey;
  image: Uint8Array;
  tally: LoadTally;
  /** Model id (default `echo`). */
  model?: string;
  /** Requests in flight (default 1). */
  concurrency?: number;
  /** Pause between requests of one lane, ms (default 0). */
  pauseMs?: number;
  /** Most attempts per idempotency key before giving up (default 60). */
  maxAttempts?: number;
  /** Prefix of the idempotency keys (unique per run). */
  keyPrefix: string;
}

/** Codes after which the same request is retried with the same key. */
const RETRY_SAME_KEY = new Set(['unreachable', 'conflict', 'ledger_unavailable']);

/**
 * Closed-loop REST client: each lane sends one `POST /v1/detect` at a time.
 * A request whose gateway is unreachable, busy with the same key (409) or
 * without its ledger (503 `ledger_unavailable`) is retried with the same
 * `Idempotency-Key`; other answers end it.
 */
export function restLoop(opts: RestLoopOptions): LoadClient {
  const model = opts.model ?? 'echo';
  const maxAttempts = opts.maxAttempts ?? 60;
  let stopping = false;
  let n = 0;
  const one = async (): Promise<void> => {
    const idem = `${opts.keyPrefix}-${++n}`;
    const rec: RestRecord = { tenantId: opts.tenant.tenantId, idempotencyKey: idem, status: 0, attempts: 0 };
    opts.tally.rest.set(idem, rec);
    const started = performance.now();
    while (rec.attempts < maxAttempts) {
      rec.attempts++;
      let code: string;
      try {
        const res = await fetch(`${opts.url()}/v1/detect?model=${model}`, {
          method: 'POST',
          headers: { 'x-auth-token': opts.tenant.key, 'content-type': 'image/jpeg', 'idempotency-key': idem },
          body: opts.image,
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { tokens?: { charged: number }; error?: { code: string } };
        rec.status = res.status;
        if (res.status === 200) {
          delete rec.code;
          rec.charged = body.tokens?.charged ?? 0;
          opts.tally.answer(performance.now() - started);
          return;
        }
        code = body.error?.code ?? `http_${res.status}`;
      } catch {
        rec.status = 0;
        code = 'unreachable';
      }
      rec.code = code;
      opts.tally.error(code, rec.status);
      if (!RETRY_SAME_KEY.has(code)) {
        if (code === 'insufficient_tokens' || code === 'overloaded' || code === 'no_capacity') await sleep(200);
        return;
      }
      await sleep(Math.min(100 * rec.attempts, 500));
    }
  };
  const lanes = Array.from({ length: opts.concurrency ?? 1 }, async () => {
    while (!stopping) {
      await one();
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  });
  const done = Promise.all(lanes);
  return {
    async stop() {
      stopping = true;
      await done;
    },
  };
}

/** HTTP status equivalent of the refusing WebSocket close codes (SPEC.md §5). */
const CLOSE_STATUS: Readonly<Record<number, number>> = Object.freeze({ 1008: 400, 1009: 413, 1013: 503, 4001: 401, 4003: 403, 4029: 429 });

/** HTTP status of an error code (500 for codes the product does not know). */
function statusOf(code: string | undefined): number {
  return code !== undefined && (Object.values(ErrorCode) as string[]).includes(code) ? new YoloscaleError(code as ErrorCode, code).httpStatus : 500;
}

/** Options of {@link streamLoop}. */
export interface StreamLoopOptions {
  /** Gateway base URL (read at each connection). */
  url: () => string;
  tenant: TenantKey;
  image: Uint8Array;
  tally: LoadTally;
  model?: string;
  /** Frames per second the camera produces (default 30). */
  fps?: number;
}

/**
 * A camera-like WebSocket client: sends a frame every `1000/fps` ms while
 * fewer than two of its frames await an answer, reconnects (key header) when
 * the socket closes, and counts every answer.
 */
export function streamLoop(opts: StreamLoopOptions): LoadClient {
  const periodMs = 1000 / (opts.fps ?? 30);
  let stopping = false;
  let current: { ws: WebSocket; closed: Promise<void>; outstanding: Map<number, number> } | null = null;

  const session = async (): Promise<void> => {
    const ws = new WebSocket(`${opts.url().replace(/^http/, 'ws')}/v1/stream?model=${opts.model ?? 'echo'}`, {
      headers: { 'x-auth-token': opts.tenant.key },
      handshakeTimeout: 5_000,
    });
    const outstanding = new Map<number, number>();
    let sent = 0;
    const closed = new Promise<void>((resolve) => {
      ws.on('close', (code) => {
        if (code in CLOSE_STATUS) opts.tally.error(`close_${code}`, CLOSE_STATUS[code]!);
        resolve();
      });
    });
    ws.on('error', () => {});
    current = { ws, closed, outstanding };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(String(data)) as { type: string; frame?: number; code?: string; tokens?: { charged: number } };
      if (m.frame === undefined) return;
      const at = outstanding.get(m.frame);
      outstanding.delete(m.frame);
      if (m.type === 'detections') {
        opts.tally.answer(at === undefined ? 0 : performance.now() - at);
        opts.tally.streamAnswer(opts.tenant.tenantId, m.tokens?.charged ?? 0);
      } else if (m.type === 'dropped') {
        opts.tally.dropped++;
      } else if (m.type === 'error') {
        opts.tally.error(m.code ?? 'unknown', statusOf(m.code));
      }
    });
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('close', () => resolve(false));
    });
    if (!opened) {
      opts.tally.error('unreachable', 0);
      return;
    }
    while (!stopping && ws.readyState === WebSocket.OPEN) {
      if (outstanding.size < 2) {
        outstanding.set(++sent, performance.now());
        ws.send(opts.image);
      }
      await sleep(periodMs);
    }
    await closed;
  };

  const done = (async () => {
    while (!stopping) {
      await session();
      if (!stopping) await sleep(200);
    }
  })();

  return {
    async stop(graceMs = 15_000) {
      stopping = true;
      const c = current as { ws: WebSocket; closed: Promise<void>; outstanding: Map<number, number> } | null;
      if (c && c.ws.readyState === WebSocket.OPEN) {
        // Let the frames in flight be answered, then close.
        const until = Date.now() + graceMs;
        while (c.outstanding.size > 0 && c.ws.readyState === WebSocket.OPEN && Date.now() < until) await sleep(20);
        c.ws.close(1000, 'done');
      }
      await done;
    },
  };
}

/** Resident memory of a process in MiB (from `/proc/PID/status`), or `null` when it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

/** The `q`-quantile of `values` (nearest rank), rounded to 0.01; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const v = s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return Math.round(v * 100) / 100;
}

/** Polls the gateway's `/readyz` until it answers 200; throws after `timeoutMs`. */
export async function waitGatewayReady(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`gateway ${url} not ready after ${timeoutMs} ms`);
    await sleep(100);
  }
}
