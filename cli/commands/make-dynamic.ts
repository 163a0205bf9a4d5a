import type { CommandContext } from '../context.js';
import { intFlag, printJson } from '../context.js';
import { UsageError } from '../errors.js';

/**
 * `models make-dynamic IN OUT [--batch N]`: rewrites a fixed batch of 1 to a
 * dynamic batch and proves it (one batch of N against N single runs); nothing
 * is written unless the proof passes.
 */
export async function makeDynamicCommandRun(args: string[], values: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (args.length !== 2) throw new UsageError('models make-dynamic takes IN.onnx OUT.onnx', 'models make-dynamic IN.onnx OUT.onnx [--batch N]');
  const { makeDynamic } = await import('../../worker/index.js');
  const report = await makeDynamic(args[0], args[1], { batch: intFlag('batch', values.batch as string | undefined, 2) });
  if (ctx.global.json) printJson(ctx.io, report);
  else {
    ctx.io.stdout.write(
      `${report.output}: dynamic batch, proved with a batch of ${report.batch}: max |batched − single| = ${report.maxAbsDiff.toExponential(2)} (tolerance atol ${report.atol}, rtol ${report.rtol})\n`,
    );
  }
  return 0;
}
