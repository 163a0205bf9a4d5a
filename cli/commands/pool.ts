import { adminClientFor } from '../admin-context.js';
import type { CommandContext, CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

/** Queue depths as `GET /v1/queue` returns them. */
export interface QueueView {
  lanes: Record<string, number>;
  retry?: number;
  batching?: number;
  inFlight?: number;
  maxBatch?: number;
  maxDelayMs?: number;
  tenants?: Array<{ lane: string; tenant: string; depth: number }>;
}

/** Aligned text of the queue view, shared with `top`. */
export function queueText(q: QueueView): string {
  const lanes = formatTable(['LANE', 'QUEUED'], Object.entries(q.lanes).map(([lane, n]) => [lane, n]));
  const extra = `batching ${q.batching ?? 0}  retry ${q.retry ?? 0}  in flight ${q.inFlight ?? 0}  maxBatch ${q.maxBatch ?? '-'}  maxDelayMs ${q.maxDelayMs ?? '-'}\n`;
  const tenants = q.tenants?.length ? `\n${formatTable(['LANE', 'TENANT', 'DEPTH'], q.tenants.map((t) => [t.lane, t.tenant, t.depth]))}` : '';
  return `${lanes}${extra}${tenants}`;
}

export const queueCommand: CommandSpec = {
  name: 'queue',
  summary: 'Queue depth per lane and tenant, frames batching and in flight',
  usage: ['queue'],
  examples: ['yoloscale queue', 'yoloscale queue --json'],
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs(argv, {}, this.usage[0]);
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const q = await adminClientFor(ctx).request<QueueView>('GET', '/v1/queue');
    if (ctx.global.json) printJson(ctx.io, q);
    else ctx.io.stdout.write(queueText(q));
    return 0;
  },
};

function poolText(pool: Record<string, unknown>): string {
  const scalar = Object.entries(pool).filter(([, v]) => v === null || typeof v !== 'object');
  const lines = [formatTable(['FIELD', 'VALUE'], scalar.map(([k, v]) => [k, String(v)]))];
  const byState = pool.nodesByState ?? pool.nodes;
  if (byState && typeof byState === 'object' && !Array.isArray(byState)) {
    lines.push(formatTable(['STATE', 'NODES'], Object.entries(byState as Record<string, number>).map(([s, n]) => [s, Number(n)])));
  }
  const decisions = (pool.decisions ?? pool.recentDecisions) as Array<Record<string, unknown>> | undefined;
  if (Array.isArray(decisions) && decisions.length) {
    lines.push(formatTable(['AT', 'ACTION', 'REASON'], decisions.slice(-10).map((d) => [String(d.at ?? d.time ?? ''), String(d.action ?? d.kind ?? ''), String(d.reason ?? '')])));
  }
  return lines.join('\n');
}

const POOL_USAGE = ['pool status', 'pool set [--min N] [--max N]', 'pool forecast'];

async function poolStatus(ctx: CommandContext): Promise<Record<string, unknown>> {
  return adminClientFor(ctx).request<Record<string, unknown>>('GET', '/v1/pool');
}

export const poolCommand: CommandSpec = {
  name: 'pool',
  summary: 'Autoscaled node pool: status, min/max, forecast',
  usage: POOL_USAGE,
  examples: ['yoloscale pool status', 'yoloscale pool set --min 1 --max 8', 'yoloscale pool forecast --json'],
  async run(argv, ctx) {
    const usage = POOL_USAGE.join(' | ');
    const { values, positionals } = parseCommandArgs(argv, { min: { type: 'string' }, max: { type: 'string' } }, usage);
    const [sub, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`, usage);
    const admin = adminClientFor(ctx);
    switch (sub) {
      case 'status':
      case undefined: {
        const pool = await poolStatus(ctx);
        if (ctx.global.json) printJson(ctx.io, pool);
        else ctx.io.stdout.write(poolText(pool));
        return 0;
      }
      case 'set': {
        const body: Record<string, number> = {};
        const min = intFlag('min', values.min as string | undefined, 0);
        const max = intFlag('max', values.max as string | undefined, 0);
        if (min !== undefined) body.min = min;
        if (max !== undefined) body.max = max;
        if (!Object.keys(body).length) throw new UsageError('pool set needs --min N and/or --max N', usage);
        if (min !== undefined && max !== undefined && min > max) throw new UsageError(`--min ${min} is above --max ${max}`, usage);
        const pool = await admin.request<Record<string, unknown>>('PUT', '/v1/pool', body);
        if (ctx.global.json) printJson(ctx.io, pool);
        else ctx.io.stdout.write(poolText(pool));
        return 0;
      }
      case 'forecast': {
        const f = await admin.request<Record<string, unknown>>('GET', '/v1/pool/forecast');
        printJson(ctx.io, f);
        return 0;
      }
      default:
        throw new UsageError(`unknown sub-command "pool ${sub}"`, usage);
    }
  },
};
