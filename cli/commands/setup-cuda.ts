import type { CommandSpec } from '../context.js';
import { parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';

export const setupCudaCommand: CommandSpec = {
  name: 'setup-cuda',
  summary: "Install the CUDA execution-provider libraries beside onnxruntime-node's own (npm run setup:cuda)",
  usage: ['setup-cuda [--from PACKAGE.tgz|DIR] [--no-verify]'],
  examples: ['npm run setup:cuda', 'yoloscale setup-cuda --from ./com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { from: { type: 'string' }, 'no-verify': { type: 'boolean' } }, this.usage[0]);
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const { setupCuda } = await import('../../worker/index.js');
    const r = await setupCuda({ from: values.from as string | undefined, verify: !values['no-verify'] });
    if (ctx.global.json) printJson(ctx.io, r);
    else {
      ctx.io.stdout.write(`installed ${r.files.length} files from ${r.source} into ${r.ortDir}\n`);
      if (r.cudaLoads === true) ctx.io.stdout.write('the CUDA execution provider loads\n');
      else if (r.cudaLoads === false) ctx.io.stdout.write(`the CUDA execution provider does not load here: ${r.cudaError ?? 'unknown reason'} (CPU stays in use)\n`);
    }
    return 0;
  },
};
