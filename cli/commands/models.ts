import { existsSync } from 'node:fs';
import { join } from 'node:path';
// The catalog's own modules, not the worker's index: listing or pulling a model loads no ONNX Runtime.
import { addModel, listModels } from '../../worker/engine/catalog.js';
import { downloadVerified } from '../../worker/engine/download.js';
import { builtinModel, MODEL_FAMILIES } from '../../worker/engine/models.js';
import type { ModelFamily } from '../../worker/index.js';
import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { progressReporter } from '../progress.js';
import { resolveSettings, SETTING_FLAGS } from '../settings.js';
import { formatTable } from '../table.js';
import { makeDynamicCommandRun } from './make-dynamic.js';

const USAGE = [
  'models ls [--models DIR]',
  'models pull ID [--url URL] [--force]',
  'models add FILE --id ID [--family yolox|ultralytics|yolov5|yolov10] [--size N] [--tokens N] [--replace]',
  'models make-dynamic IN.onnx OUT.onnx [--batch N]',
];

export const modelsCommand: CommandSpec = {
  name: 'models',
  summary: 'List, download, register and convert detection models',
  usage: USAGE,
  examples: [
    'yoloscale models ls',
    'yoloscale models pull yolox-nano',
    'yoloscale models add ./my-yolo.onnx --id my-yolo',
    'yoloscale models make-dynamic yolox_nano.onnx yolox_nano_dyn.onnx',
  ],
  async run(argv, ctx) {
    const usage = USAGE.join(' | ');
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        ...SETTING_FLAGS,
        url: { type: 'string' },
        force: { type: 'boolean' },
        id: { type: 'string' },
        family: { type: 'string' },
        size: { type: 'string' },
        tokens: { type: 'string' },
        replace: { type: 'boolean' },
        batch: { type: 'string' },
      },
      usage,
    );
    const settings = resolveSettings(values, ctx.io.env);
    const [sub, ...args] = positionals;
    switch (sub) {
      case 'ls':
      case undefined: {
        const models = await listModels(settings.models);
        if (ctx.global.json) printJson(ctx.io, { dir: settings.models, models });
        else {
          ctx.io.stdout.write(`model directory: ${settings.models}\n`);
          ctx.io.stdout.write(
            formatTable(
              ['ID', 'FAMILY', 'INPUT', 'TOKENS', 'PRESENT', 'SIZE MB', 'FILE'],
              models.map((m) => [m.id, m.family, m.inputSize, m.tokensPerFrame, m.present ? 'yes' : m.downloadable ? 'no (pull)' : 'no', m.sizeBytes === null ? '-' : (m.sizeBytes / 1_048_576).toFixed(1), m.file]),
            ),
          );
        }
        return 0;
      }
      case 'pull': {
        const [id, extra] = args;
        if (!id || extra) throw new UsageError('models pull takes one model ID', USAGE[1]);
        const d = builtinModel(id);
        const url = (values.url as string | undefined) ?? d?.url;
        if (!d) throw new UsageError(`unknown built-in model "${id}"; known: ${(await listModels(settings.models)).filter((m) => m.builtIn).map((m) => m.id).join(', ')}`);
        if (!url) throw new Error(`${id} has no official download URL; copy ${d.file} into ${settings.models} (or pass --url URL)`);
        const dest = join(settings.models, d.file);
        if (existsSync(dest) && !values.force) {
          ctx.io.stderr.write(`${id} is already at ${dest} (use --force to download again)\n`);
          if (ctx.global.json) printJson(ctx.io, { id, path: dest, downloaded: false });
          return 0;
        }
        const report = progressReporter(ctx.io, `pulling ${id}`);
        const res = await downloadVerified({ url, dest, sha256: d.sha256, onProgress: (p) => report(p.received, p.total) });
        if (ctx.global.json) printJson(ctx.io, { id, path: res.path, bytes: res.bytes, sha256: res.sha256, downloaded: true });
        else ctx.io.stdout.write(`${id}: ${res.bytes} bytes, SHA-256 verified, saved to ${res.path}\n`);
        return 0;
      }
      case 'add': {
        const [file, extra] = args;
        if (!file || extra) throw new UsageError('models add takes one FILE', USAGE[2]);
        if (!values.id) throw new UsageError('models add needs --id ID', USAGE[2]);
        const family = values.family as string | undefined;
        if (family !== undefined && !(MODEL_FAMILIES as readonly string[]).includes(family)) {
          throw new UsageError(`--family must be one of ${MODEL_FAMILIES.join(', ')}`, USAGE[2]);
        }
        const res = await addModel(settings.models, file, {
          id: values.id as string,
          family: family as ModelFamily | undefined,
          size: intFlag('size', values.size as string | undefined, 32),
          tokensPerFrame: intFlag('tokens', values.tokens as string | undefined),
          replace: Boolean(values.replace),
        });
        const d = res.descriptor;
        if (ctx.global.json) printJson(ctx.io, { id: d.id, family: d.family, inputSize: d.input.size, path: res.path, classes: d.classNames.length });
        else ctx.io.stdout.write(`added ${d.id}: family ${d.family}${family ? ' (forced)' : ' (detected)'}, input ${d.input.size}, ${d.classNames.length} classes, file ${res.path}\n`);
        return 0;
      }
      case 'make-dynamic':
        return makeDynamicCommandRun(args, values, ctx);
      default:
        throw new UsageError(`unknown sub-command "models ${sub}"`, usage);
    }
  },
};
