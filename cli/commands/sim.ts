import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

const USAGE = 'sim --trace diurnal|surge|event|FILE.csv [--policy predictive|reactive|both] [--lead-time-s N] [--seed N] [--svg OUT.svg] [--json]';

export const simCommand: CommandSpec = {
  name: 'sim',
  summary: 'Replay a demand trace through the real forecaster and planner: SLO-violation minutes and node-hours per policy',
  usage: [USAGE],
  examples: ['yoloscale sim --trace surge', 'yoloscale sim --trace diurnal --policy both --svg diurnal.svg', 'yoloscale sim --trace demand.csv --json'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { trace: { type: 'string' }, policy: { type: 'string' }, 'lead-time-s': { type: 'string' }, seed: { type: 'string' }, svg: { type: 'string' } },
      USAGE,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, USAGE);
    if (!values.trace) throw new UsageError('sim needs --trace NAME|FILE.csv', USAGE);
    const policy = (values.policy as string | undefined) ?? 'both';
    if (policy !== 'predictive' && policy !== 'reactive' && policy !== 'both') throw new UsageError('--policy must be predictive, reactive or both', USAGE);
    const leadTimeS = intFlag('lead-time-s', values['lead-time-s'] as string | undefined, 0);
    const { runSim } = await import('../../scheduler/index.js');
    const out = await runSim({
      trace: values.trace as string,
      policy,
      seed: intFlag('seed', values.seed as string | undefined, 0),
      svgPath: values.svg as string | undefined,
      ...(leadTimeS === undefined ? {} : { leadTimeS }),
    });
    const { results: _r, svg: _s, ...summary } = out;
    if (ctx.global.json) {
      printJson(ctx.io, summary);
      return 0;
    }
    const rows = (['predictive', 'reactive'] as const).flatMap((p) => {
      const s = out[p];
      return s ? [[p, s.violationMin, s.nodeHours, Number((s.utilisation * 100).toFixed(1)), s.peakNodes, s.launches, s.drains]] : [];
    });
    ctx.io.stdout.write(`trace ${out.trace}: ${out.minutes} min, node lead time ${out.leadTimeS} s, ${out.nodeTokensPerS} tokens/s per node\n`);
    ctx.io.stdout.write(formatTable(['POLICY', 'SLO VIOLATION MIN', 'NODE-HOURS', 'UTIL %', 'PEAK NODES', 'LAUNCHES', 'DRAINS'], rows));
    if (out.svgPath) ctx.io.stdout.write(`plot: ${out.svgPath}\n`);
    return 0;
  },
};
