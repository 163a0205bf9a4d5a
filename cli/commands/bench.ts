import { BENCHMARKS } from '../../bench/index.js';
import type { BenchRunOptions } from '../../bench/index.js';
import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';

const USAGE = `bench NAME [--image FILE] [--device auto|cuda|cpu] [--model ID] [--frames N] [--trace NAME] [--minutes M] [--json]   (NAME: ${BENCHMARKS.map((b) => b.name).join('|')})`;

export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'Run a benchmark; writes bench/results/NAME.json and prints a one-line summary',
  usage: [USAGE],
  examples: ['yoloscale bench engine', 'npm run bench -- engine --device cuda', 'yoloscale bench autoscale --json'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { image: { type: 'string' }, device: { type: 'string' }, model: { type: 'string' }, frames: { type: 'string' }, trace: { type: 'string', multiple: true }, minutes: { type: 'string' } },
      USAGE,
    );
    const [name, extra] = positionals;
    if (!name || extra) throw new UsageError('bench takes one NAME', USAGE);
    const bench = BENCHMARKS.find((b) => b.name === name);
    if (!bench) throw new UsageError(`unknown benchmark "${name}"`, USAGE);
    const device = values.device as string | undefined;
    if (device !== undefined && device !== 'auto' && device !== 'cuda' && device !== 'cpu') throw new UsageError('--device must be auto, cuda or cpu', USAGE);
    const opts: BenchRunOptions = {
      image: values.image as string | undefined,
      device: device as BenchRunOptions['device'],
      model: values.model as string | undefined,
      frames: intFlag('frames', values.frames as string | undefined),
      traces: values.trace as string[] | undefined,
    };
    if (values.minutes !== undefined) {
      const minutes = Number(values.minutes);
      if (!(minutes > 0)) throw new UsageError('--minutes must be a positive number', USAGE);
      opts.minutes = minutes;
    }
    const { result, line } = await bench.run(opts);
    if (ctx.global.json) printJson(ctx.io, result);
    else ctx.io.stdout.write(`${line}\n`);
    return 0;
  },
};
