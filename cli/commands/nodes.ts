import { adminClientFor } from '../admin-context.js';
import type { CommandContext, CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

/** A node as the admin API returns it (SPEC §6). */
export interface NodeRow {
  id: string;
  state: string;
  type?: string | null;
  device?: string;
  slots?: number;
  inFlight?: number;
  models?: string[];
  loaded?: string[];
  host?: string;
  lastSeenMsAgo?: number;
  framesDone?: number;
}

function nodesOf(body: unknown): NodeRow[] {
  if (Array.isArray(body)) return body as NodeRow[];
  return ((body as { nodes?: NodeRow[] }).nodes ?? []) as NodeRow[];
}

/** Aligned table of nodes, shared with `top`. */
export function nodesTable(nodes: NodeRow[]): string {
  return formatTable(
    ['ID', 'STATE', 'TYPE', 'DEVICE', 'SLOTS', 'IN FLIGHT', 'FRAMES', 'MODELS'],
    nodes.map((n) => [n.id, n.state, n.type ?? '-', n.device ?? '-', n.slots ?? 0, n.inFlight ?? 0, n.framesDone ?? 0, (n.loaded ?? n.models ?? []).join(',') || '-']),
  );
}

const USAGE = [
  'nodes ls',
  'nodes show ID',
  'nodes cordon|uncordon|retire ID',
  'nodes drain ID [--wait] [--timeout-s N]',
  'nodes provision --type T --count N',
];

async function drainWait(ctx: CommandContext, id: string, timeoutS: number): Promise<number> {
  const admin = adminClientFor(ctx);
  const until = Date.now() + timeoutS * 1000;
  for (;;) {
    const node = await admin.request<NodeRow>('GET', `/v1/nodes/${encodeURIComponent(id)}`);
    const inFlight = node.inFlight ?? 0;
    if (!ctx.global.json) ctx.io.stdout.write(`${id}: ${node.state}, ${inFlight} in flight\n`);
    if (inFlight === 0 && node.state !== 'ready' && node.state !== 'cordoned') {
      if (ctx.global.json) printJson(ctx.io, node);
      else ctx.io.stdout.write(`${id} drained\n`);
      return 0;
    }
    if (Date.now() > until) {
      ctx.io.stderr.write(`yoloscale nodes: ${id} still has ${inFlight} frames in flight after ${timeoutS} s\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What the provider did for a retire (SPEC.md §9), as `GET /v1/nodes/:id/retire` reports it. */
interface ProviderReport {
  provider: string;
  requestId?: string;
  terminated: boolean;
  errors: string[];
}

function providerLine(p: ProviderReport): string {
  if (!p.requestId) return `not a ${p.provider} provider node: its machine or process was left as it is`;
  if (p.terminated) return `provider ${p.provider} terminated it (request ${p.requestId})`;
  return `provider ${p.provider} could not terminate it (request ${p.requestId}): ${p.errors.join('; ')}`;
}

export const nodesCommand: CommandSpec = {
  name: 'nodes',
  summary: 'List, inspect, cordon, drain, retire and provision worker nodes',
  usage: USAGE,
  examples: ['yoloscale nodes ls', 'yoloscale nodes cordon node-1a2b', 'yoloscale nodes drain node-1a2b --wait', 'yoloscale nodes provision --type cpu --count 2'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { wait: { type: 'boolean' }, 'timeout-s': { type: 'string' }, type: { type: 'string' }, count: { type: 'string' } },
      USAGE.join(' | '),
    );
    const [sub, id, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE.join(' | '));
    const admin = adminClientFor(ctx);
    const needId = () => {
      if (!id) throw new UsageError(`nodes ${sub} needs a node ID`, USAGE.join(' | '));
      return encodeURIComponent(id);
    };
    switch (sub) {
      case 'ls':
      case undefined: {
        const nodes = nodesOf(await admin.request('GET', '/v1/nodes'));
        if (ctx.global.json) printJson(ctx.io, nodes);
        else ctx.io.stdout.write(nodes.length ? nodesTable(nodes) : 'no nodes\n');
        return 0;
      }
      case 'show': {
        const node = await admin.request<NodeRow>('GET', `/v1/nodes/${needId()}`);
        if (ctx.global.json) printJson(ctx.io, node);
        else {
          const rows = Object.entries(node).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]);
          ctx.io.stdout.write(formatTable(['FIELD', 'VALUE'], rows));
        }
        return 0;
      }
      case 'cordon':
      case 'uncordon':
      case 'retire':
      case 'drain': {
        const node = await admin.request<NodeRow & { provider?: ProviderReport }>('POST', `/v1/nodes/${needId()}/${sub}`);
        if (sub === 'drain' && values.wait) return drainWait(ctx, id as string, intFlag('timeout-s', values['timeout-s'] as string | undefined) ?? 600);
        if (ctx.global.json) printJson(ctx.io, node);
        else ctx.io.stdout.write(`${id}: ${node?.state ?? sub}${node?.provider ? `; ${providerLine(node.provider)}` : ''}\n`);
        return node?.provider && node.provider.errors.length > 0 ? 1 : 0;
      }
      case 'provision': {
        if (!values.type) throw new UsageError('nodes provision needs --type T', USAGE[4]);
        const count = intFlag('count', (values.count as string | undefined) ?? '1') as number;
        const res = await admin.request<{ provider: string; requestId: string; ids: string[]; errors: string[] }>('POST', '/v1/nodes/provision', { type: values.type, count });
        if (ctx.global.json) printJson(ctx.io, res);
        else {
          ctx.io.stdout.write(`provider ${res.provider} launched ${res.ids.length ? res.ids.join(', ') : 'nothing'} (request ${res.requestId})\n`);
          for (const e of res.errors) ctx.io.stdout.write(`  error: ${e}\n`);
          if (res.ids.length) ctx.io.stdout.write(`  watch them boot with: yoloscale nodes ls\n`);
        }
        return res.errors.length > 0 ? 1 : 0;
      }
      default:
        throw new UsageError(`unknown sub-command "nodes ${sub}"`, USAGE.join(' | '));
    }
  },
};
