import { adminClientFor } from '../admin-context.js';
import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';
import { nodesTable } from './nodes.js';
import type { NodeRow } from './nodes.js';
import { queueText } from './pool.js';
import type { QueueView } from './pool.js';

/** Reads one labelled gauge family from Prometheus text format: label value → number. */
export function gaugeByLabel(metrics: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{([^}]*)\\}\\s+(\\S+)`, 'gm');
  for (const m of metrics.matchAll(re)) {
    const l = new RegExp(`${label}="([^"]*)"`).exec(m[1]);
    if (l) out[l[1]] = Number(m[2]);
  }
  return out;
}

async function snapshot(admin: ReturnType<typeof adminClientFor>, baseUrl: string): Promise<string> {
  const [nodesBody, queue, pool, metrics] = await Promise.all([
    admin.request<{ nodes: NodeRow[] } | NodeRow[]>('GET', '/v1/nodes'),
    admin.request<QueueView>('GET', '/v1/queue'),
    admin.request<Record<string, unknown>>('GET', '/v1/pool').catch(() => undefined),
    fetch(`${baseUrl.replace(/\/+$/, '')}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch(() => ''),
  ]);
  const nodes = Array.isArray(nodesBody) ? nodesBody : nodesBody.nodes;
  const used = gaugeByLabel(metrics, 'tokens_used_per_second', 'model');
  const forecast = gaugeByLabel(metrics, 'yoloscale_forecast_tokens_per_second', 'model');
  const models = [...new Set([...Object.keys(used), ...Object.keys(forecast)])].sort();
  const parts = [
    `yoloscale top — ${new Date().toISOString()}  (${nodes.length} nodes)`,
    '',
    nodes.length ? nodesTable(nodes) : 'no nodes\n',
    queueText(queue),
    models.length
      ? formatTable(['MODEL', 'TOKENS/S NOW', 'FORECAST'], models.map((m) => [m, Number((used[m] ?? 0).toFixed(2)), Number((forecast[m] ?? 0).toFixed(2))]))
      : 'tokens/s: no traffic yet\n',
  ];
  const decisions = (pool?.decisions ?? pool?.recentDecisions) as Array<Record<string, unknown>> | undefined;
  if (Array.isArray(decisions) && decisions.length) {
    parts.push(formatTable(['AT', 'ACTION', 'REASON'], decisions.slice(-5).map((d) => [String(d.at ?? ''), String(d.action ?? d.kind ?? ''), String(d.reason ?? '')])));
  }
  return parts.join('\n');
}

export const topCommand: CommandSpec = {
  name: 'top',
  summary: 'Live view of nodes, queues, tokens/s and autoscaler decisions (q or Ctrl-C quits)',
  usage: ['top [--interval-ms N] [--iterations N]'],
  examples: ['yoloscale top', 'yoloscale top --iterations 3 > snapshot.txt'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { 'interval-ms': { type: 'string' }, iterations: { type: 'string' } }, this.usage[0]);
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const intervalMs = intFlag('interval-ms', values['interval-ms'] as string | undefined, 100) ?? 1000;
    const iterations = intFlag('iterations', values.iterations as string | undefined, 1) ?? Infinity;
    const admin = adminClientFor(ctx);
    const baseUrl = ctx.global.scheduler ?? ctx.io.env.YOLOSCALE_SCHEDULER ?? 'http://127.0.0.1:8081';
    const tty = Boolean(ctx.io.stdout.isTTY);
    let quit = false;
    let wake: (() => void) | undefined;
    const stdin = ctx.io.stdin;
    const onKey = (d: Buffer) => {
      const s = d.toString();
      if (s === 'q' || s === 'Q' || s === '\u0003') {
        quit = true;
        wake?.();
      }
    };
    const onSignal = () => {
      quit = true;
      wake?.();
    };
    process.once('SIGINT', onSignal);
    if (tty && stdin?.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      stdin.on('data', onKey);
      (stdin as NodeJS.ReadStream).resume?.();
    }
    try {
      for (let i = 0; i < iterations && !quit; i++) {
        let text: string;
        try {
          text = await snapshot(admin, baseUrl);
        } catch (err) {
          if (i === 0) throw err;
          text = `scheduler unreachable: ${(err as Error).message}\n`;
        }
        // On a terminal redraw in place; piped output gets plain appended snapshots.
        ctx.io.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n(q to quit)\n` : `${text}\n`);
        if (i + 1 < iterations && !quit) await new Promise<void>((r) => ((wake = r), setTimeout(r, intervalMs)));
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      if (tty && stdin?.isTTY && stdin.setRawMode) {
        stdin.removeListener('data', onKey);
        stdin.setRawMode(false);
        (stdin as NodeJS.ReadStream).pause?.();
      }
    }
    return 0;
  },
};
