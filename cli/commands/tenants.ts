import { adminClientFor } from '../admin-context.js';
import type { CommandContext, CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

interface BalanceRow {
  plan: string;
  tokensPerHour: number;
  usedThisHour: number;
  hourlyRemaining: number;
  topupBalance: number;
  remaining: number;
  resetAt: string;
}
interface TenantRow {
  id: string;
  name: string;
  plan: string;
  createdAt?: string;
  elastic?: { minPlan: string; maxPlan: string } | null;
  balance?: BalanceRow;
}

const listOf = <T>(body: unknown, key: string): T[] => (Array.isArray(body) ? (body as T[]) : (((body as Record<string, unknown>)[key] as T[]) ?? []));

function tenantsTable(tenants: TenantRow[]): string {
  return formatTable(
    ['ID', 'NAME', 'PLAN', 'ELASTIC', 'USED/H', 'REMAINING', 'TOP-UP'],
    tenants.map((t) => [
      t.id,
      t.name,
      t.plan,
      t.elastic ? `${t.elastic.minPlan}..${t.elastic.maxPlan}` : '-',
      t.balance?.usedThisHour ?? 0,
      t.balance?.remaining ?? 0,
      t.balance?.topupBalance ?? 0,
    ]),
  );
}

function kv(ctx: CommandContext, value: unknown): void {
  if (ctx.global.json) return printJson(ctx.io, value);
  const rows = Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.entries(v as Record<string, unknown>).map(([k2, v2]) => [`${k}.${k2}`, typeof v2 === 'object' ? JSON.stringify(v2) : String(v2)])
      : [[k, Array.isArray(v) ? v.join(',') : String(v)]],
  );
  ctx.io.stdout.write(formatTable(['FIELD', 'VALUE'], rows));
}

const TENANT_USAGE = [
  'tenants ls',
  'tenants create NAME --plan P',
  'tenants show ID',
  'tenants keys create ID',
  'tenants topup ID N',
  'tenants plan ID P [--elastic --min-plan P --max-plan P | --no-elastic]',
  'tenants webhook set ID URL [--events balance_low,budget_exhausted,plan_changed,best_effort_entered,best_effort_left] [--threshold N]',
  'tenants webhook show|rm|deliveries ID',
];

interface DeliveryRow {
  eventId: string;
  type: string;
  attempt: number;
  at: string;
  outcome: string;
  status: number | null;
  error?: string;
  durationMs: number;
}

/** `tenants webhook …`: set (secret shown once), show, rm, deliveries. */
async function webhookCommand(ctx: CommandContext, args: { action?: string; id?: string; url?: string; events?: string; threshold?: string }, usage: string): Promise<number> {
  const admin = adminClientFor(ctx);
  if (!args.action) throw new UsageError('usage: tenants webhook set|show|rm|deliveries ID', usage);
  if (!args.id) throw new UsageError(`tenants webhook ${args.action} needs a tenant ID`, usage);
  const path = `/v1/tenants/${encodeURIComponent(args.id)}/webhook`;
  if (args.action !== 'set' && args.url) throw new UsageError(`unexpected argument "${args.url}"`, usage);
  switch (args.action) {
    case 'set': {
      if (!args.url) throw new UsageError('tenants webhook set needs a URL', usage);
      const body: Record<string, unknown> = { url: args.url };
      if (args.events !== undefined) body.events = args.events.split(',').map((e) => e.trim()).filter(Boolean);
      if (args.threshold !== undefined) body.threshold = intFlag('threshold', args.threshold, 0);
      const hook = await admin.request<{ url: string; events: string[]; threshold: number | null; secret: string }>('PUT', path, body);
      if (ctx.global.json) printJson(ctx.io, hook);
      else {
        ctx.io.stdout.write(`webhook of ${args.id}: ${hook.url}
events: ${hook.events.join(', ')}
threshold: ${hook.threshold ?? '-'}
`);
        ctx.io.stdout.write(`signing secret: ${hook.secret}
(shown once: store it now; receivers verify X-Yoloscale-Signature with it)
`);
      }
      return 0;
    }
    case 'show':
      kv(ctx, await admin.request('GET', path));
      return 0;
    case 'rm': {
      const r = await admin.request<{ removed: boolean }>('DELETE', path);
      if (ctx.global.json) printJson(ctx.io, r);
      else ctx.io.stdout.write(r.removed ? `removed the webhook of ${args.id}
` : `${args.id} had no webhook
`);
      return 0;
    }
    case 'deliveries': {
      const { deliveries } = await admin.request<{ deliveries: DeliveryRow[] }>('GET', `${path}/deliveries`);
      if (ctx.global.json) printJson(ctx.io, deliveries);
      else {
        ctx.io.stdout.write(
          deliveries.length
            ? formatTable(
                ['AT', 'EVENT', 'TYPE', 'ATTEMPT', 'OUTCOME', 'STATUS', 'MS', 'ERROR'],
                deliveries.map((d) => [d.at, d.eventId, d.type, d.attempt, d.outcome, d.status ?? '-', d.durationMs, d.error ?? '']),
              )
            : 'no deliveries yet\n',
        );
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown sub-command "tenants webhook ${args.action ?? ''}"`, usage);
  }
}

export const tenantsCommand: CommandSpec = {
  name: 'tenants',
  summary: 'Manage tenants: create, keys, top-ups, plan changes (elastic too)',
  usage: TENANT_USAGE,
  examples: [
    'yoloscale tenants create acme --plan starter',
    'yoloscale tenants keys create t_abc123',
    'yoloscale tenants topup t_abc123 5000',
    'yoloscale tenants plan t_abc123 pro --elastic --min-plan starter --max-plan enterprise',
    'yoloscale tenants webhook set t_abc123 https://hooks.example.com/yoloscale --events balance_low,budget_exhausted --threshold 1000',
    'yoloscale tenants webhook deliveries t_abc123',
  ],
  async run(argv, ctx) {
    const usage = TENANT_USAGE.join(' | ');
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        plan: { type: 'string' }, elastic: { type: 'boolean' }, 'no-elastic': { type: 'boolean' }, 'min-plan': { type: 'string' }, 'max-plan': { type: 'string' },
        events: { type: 'string' }, threshold: { type: 'string' },
      },
      usage,
    );
    if (positionals[0] === 'webhook') {
      const [, action, id, url, ...rest] = positionals;
      if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`, usage);
      return webhookCommand(ctx, { action, id, url, events: values.events as string | undefined, threshold: values.threshold as string | undefined }, usage);
    }
    const [sub, a, b, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`, usage);
    const admin = adminClientFor(ctx);
    const need = (v: string | undefined, what: string) => {
      if (!v) throw new UsageError(`tenants ${sub} needs ${what}`, usage);
      return v;
    };
    switch (sub) {
      case 'ls':
      case undefined: {
        const tenants = listOf<TenantRow>(await admin.request('GET', '/v1/tenants'), 'tenants');
        if (ctx.global.json) printJson(ctx.io, tenants);
        else ctx.io.stdout.write(tenants.length ? tenantsTable(tenants) : 'no tenants\n');
        return 0;
      }
      case 'create': {
        const name = need(a, 'a NAME');
        if (b) throw new UsageError(`unexpected argument "${b}"`, usage);
        const tenant = await admin.request<TenantRow>('POST', '/v1/tenants', { name, plan: (values.plan as string | undefined) ?? 'free' });
        if (ctx.global.json) printJson(ctx.io, tenant);
        else ctx.io.stdout.write(`created tenant ${tenant.id} (${tenant.name}, plan ${tenant.plan})\n`);
        return 0;
      }
      case 'show':
        kv(ctx, await admin.request('GET', `/v1/tenants/${encodeURIComponent(need(a, 'a tenant ID'))}`));
        return 0;
      case 'keys': {
        if (a !== 'create') throw new UsageError('usage: tenants keys create ID', usage);
        const key = await admin.request<{ key: string }>('POST', `/v1/tenants/${encodeURIComponent(need(b, 'a tenant ID'))}/keys`, {});
        if (ctx.global.json) printJson(ctx.io, key);
        else ctx.io.stdout.write(`${key.key}\n(shown once: store it now)\n`);
        return 0;
      }
      case 'topup': {
        const id = need(a, 'a tenant ID');
        const tokens = intFlag('tokens', need(b, 'a token count N'));
        kv(ctx, await admin.request('POST', `/v1/tenants/${encodeURIComponent(id)}/topup`, { tokens }));
        return 0;
      }
      case 'plan': {
        const id = need(a, 'a tenant ID');
        const plan = need(b, 'a plan name P');
        const body: Record<string, unknown> = { plan };
        if (values.elastic) {
          if (!values['min-plan'] || !values['max-plan']) throw new UsageError('--elastic needs --min-plan P and --max-plan P', usage);
          body.elastic = { minPlan: values['min-plan'], maxPlan: values['max-plan'] };
        } else if (values['no-elastic']) body.elastic = null;
        kv(ctx, await admin.request('PUT', `/v1/tenants/${encodeURIComponent(id)}/plan`, body));
        return 0;
      }
      default:
        throw new UsageError(`unknown sub-command "tenants ${sub}"`, usage);
    }
  },
};

const PLAN_USAGE = ['plans ls', 'plans set NAME --tokens-per-hour N [--models a,b] [--overflow reject|best-effort]'];

export const plansCommand: CommandSpec = {
  name: 'plans',
  summary: 'List and edit token plans',
  usage: PLAN_USAGE,
  examples: ['yoloscale plans ls', 'yoloscale plans set team --tokens-per-hour 200000 --models yolox-nano,yolo11n-320 --overflow best-effort'],
  async run(argv, ctx) {
    const usage = PLAN_USAGE.join(' | ');
    const { values, positionals } = parseCommandArgs(argv, { 'tokens-per-hour': { type: 'string' }, models: { type: 'string' }, overflow: { type: 'string' } }, usage);
    const [sub, name, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`, usage);
    const admin = adminClientFor(ctx);
    if (sub === 'ls' || sub === undefined) {
      const plans = listOf<{ name: string; tokensPerHour: number; models: string[] | null; overflow: string }>(await admin.request('GET', '/v1/plans'), 'plans');
      if (ctx.global.json) printJson(ctx.io, plans);
      else ctx.io.stdout.write(formatTable(['PLAN', 'TOKENS/H', 'OVERFLOW', 'MODELS'], plans.map((p) => [p.name, p.tokensPerHour, p.overflow, p.models ? p.models.join(',') : 'all'])));
      return 0;
    }
    if (sub !== 'set') throw new UsageError(`unknown sub-command "plans ${sub}"`, usage);
    if (!name) throw new UsageError('plans set needs a NAME', usage);
    const body: Record<string, unknown> = {};
    if (values['tokens-per-hour'] !== undefined) body.tokensPerHour = intFlag('tokens-per-hour', values['tokens-per-hour'] as string, 0);
    if (values.models !== undefined) body.models = (values.models as string) === 'all' ? null : (values.models as string).split(',').map((s) => s.trim()).filter(Boolean);
    if (values.overflow !== undefined) {
      if (values.overflow !== 'reject' && values.overflow !== 'best-effort') throw new UsageError('--overflow must be reject or best-effort', usage);
      body.overflow = values.overflow;
    }
    if (Object.keys(body).length === 0) throw new UsageError('plans set needs --tokens-per-hour, --models or --overflow', usage);
    kv(ctx, await admin.request('PUT', `/v1/plans/${encodeURIComponent(name)}`, body));
    return 0;
  },
};

export const usageCommand: CommandSpec = {
  name: 'usage',
  summary: "A tenant's plan, balances, hourly usage by model and plan changes",
  usage: ['usage TENANT'],
  examples: ['yoloscale usage t_abc123', 'yoloscale usage t_abc123 --json'],
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs(argv, {}, this.usage[0]);
    if (positionals.length !== 1) throw new UsageError('usage needs exactly one TENANT id', this.usage[0]);
    const report = await adminClientFor(ctx).request<{
      tenantId: string;
      plan: string;
      balance: BalanceRow;
      hourly: Array<{ hour: string; model: string; tokens: number; refunded: number; frames: number }>;
      changes: Array<{ at: string; kind?: string; type?: string; detail?: unknown }>;
      refusals?: Array<{ hour: string; reason: string; count: number }>;
      notifications?: Array<{ type: string; outcome: string; count: number }>;
    }>('GET', `/v1/tenants/${encodeURIComponent(positionals[0])}/usage`);
    if (ctx.global.json) {
      printJson(ctx.io, report);
      return 0;
    }
    const b = report.balance;
    ctx.io.stdout.write(
      `tenant ${report.tenantId}  plan ${report.plan}  used this hour ${b.usedThisHour}/${b.tokensPerHour}  top-up ${b.topupBalance}  remaining ${b.remaining}  resets ${b.resetAt}\n\n`,
    );
    ctx.io.stdout.write(
      report.hourly.length
        ? formatTable(['HOUR', 'MODEL', 'FRAMES', 'TOKENS', 'REFUNDED'], report.hourly.map((h) => [h.hour, h.model, h.frames, h.tokens, h.refunded]))
        : 'no usage in the last 24 h\n',
    );
    if (report.changes.length) {
      ctx.io.stdout.write(`\n${formatTable(['AT', 'CHANGE'], report.changes.map((c) => [c.at, JSON.stringify({ ...c, at: undefined })]))}`);
    }
    const refusals = report.refusals ?? [];
    ctx.io.stdout.write(
      refusals.length
        ? `\n${formatTable(['HOUR', 'REFUSED', 'COUNT'], refusals.map((r) => [r.hour, r.reason, r.count]))}`
        : '\nno refusals in the last 24 h\n',
    );
    const notes = report.notifications ?? [];
    ctx.io.stdout.write(
      notes.length
        ? `\n${formatTable(['NOTIFICATION', 'OUTCOME', 'ATTEMPTS'], notes.map((n) => [n.type, n.outcome, n.count]))}`
        : '\nno webhook notifications sent\n',
    );
    return 0;
  },
};
