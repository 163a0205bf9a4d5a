/**
 * The gateway's Prometheus metrics (SPEC.md §10), registered on a registry the
 * process creates in `main` and injects.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Lane } from '../protocol/index.js';

/** Metrics the gateway updates. One instance per registry. */
export class GatewayMetrics {
  /** `yoloscale_request_seconds{route,method,status}`: request latency at the gateway. */
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;
  /** `yoloscale_tokens_charged_total{tenant,model,lane}`. */
  readonly tokensCharged: Counter<'tenant' | 'model' | 'lane'>;
  /** `yoloscale_tokens_refunded_total{tenant,reason}`. */
  readonly tokensRefunded: Counter<'tenant' | 'reason'>;
  /** `yoloscale_gateway_frames_total{model,outcome}`: frames the gateway handled by outcome. */
  readonly frames: Counter<'model' | 'outcome'>;
  /** `yoloscale_streams_open`: WebSocket streams open now. */
  readonly streamsOpen: Gauge;
  /** `yoloscale_auth_failures_total`: requests with a missing or wrong key. */
  readonly authFailures: Counter;
  /** `yoloscale_refusals_total{tenant,reason}`: requests and frames refused at admission, by reason (tenant `unknown` before auth). */
  readonly refusals: Counter<'tenant' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requestSeconds = new Histogram({
      name: 'yoloscale_request_seconds',
      help: 'Gateway request latency in seconds',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.tokensCharged = new Counter({
      name: 'yoloscale_tokens_charged_total',
      help: 'Tokens debited at admission',
      labelNames: ['tenant', 'model', 'lane'],
      registers,
    });
    this.tokensRefunded = new Counter({
      name: 'yoloscale_tokens_refunded_total',
      help: 'Tokens refunded for failed, dropped or timed-out frames',
      labelNames: ['tenant', 'reason'],
      registers,
    });
    this.frames = new Counter({
      name: 'yoloscale_gateway_frames_total',
      help: 'Frames handled by the gateway by outcome',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.streamsOpen = new Gauge({ name: 'yoloscale_streams_open', help: 'Open WebSocket streams', registers });
    this.authFailures = new Counter({ name: 'yoloscale_auth_failures_total', help: 'Requests with a missing or wrong key', registers });
    this.refusals = new Counter({
      name: 'yoloscale_refusals_total',
      help: 'Requests and frames refused at admission by reason (insufficient_tokens, model_not_in_plan, ledger_unavailable, unauthorized, rate_limited)',
      labelNames: ['tenant', 'reason'],
      registers,
    });
  }

  /** Records a refusal at admission. */
  refused(tenant: string, reason: string): void {
    this.refusals.inc({ tenant, reason });
  }

  /** Records a debit. */
  charged(tenant: string, model: string, lane: Lane, tokens: number): void {
    if (tokens > 0) this.tokensCharged.inc({ tenant, model, lane }, tokens);
  }

  /** Records a refund. */
  refunded(tenant: string, reason: string, tokens: number): void {
    if (tokens > 0) this.tokensRefunded.inc({ tenant, reason }, tokens);
  }
}
