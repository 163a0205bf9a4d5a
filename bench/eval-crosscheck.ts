import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { BUILTIN_MODELS } from '../worker/engine/index.js';
import { REPO_ROOT, findPython } from './python.js';
import { isMainModule, scriptFlags } from './script-args.js';

/**
 * `bench eval-crosscheck`: `yoloscale eval` (the CLI itself, in a child
 * process) against an independent evaluation of the same model file
 * (bench/eval_crosscheck.py: OpenCV preprocessing, onnxruntime for Python or
 * else OpenCV DNN, numpy decoding and NMS, COCOeval in numpy) on the labelled
 * shared images. Issue #2 asks for mAP within {@link MAP_TOLERANCE}. Writes
 * `bench/results/eval-crosscheck.json`.
 */

/** Largest accepted |ours − independent| for mAP@0.5 and mAP@0.5:0.95. */
export const MAP_TOLERANCE = 0.02;

const SCRIPT = join(REPO_ROOT, 'bench', 'eval_crosscheck.py');

/** Options of {@link runEvalCrosscheck}. */
export interface EvalCrosscheckOptions {
  /** Folder of images with YOLO labels in `labels/` beside them (default ../shared/images); only labelled images count. */
  images?: string;
  /** Model directory (default `YOLOSCALE_MODELS`, else ../shared/models). */
  modelsDir?: string;
  /** Catalog ids (default every built-in model). */
  models?: string[];
  /** Python interpreter with cv2 (see findPython). */
  python?: string;
  /** Output directory (default `bench/results`). */
  outDir?: string;
}

interface MapPair {
  map50: number;
  map50_95: number;
}

/** One model's two evaluations. */
export interface EvalCrosscheckModel {
  model: string;
  file: string;
  family: string;
  /** `yoloscale eval --json`. */
  ours: MapPair;
  /** The independent pipeline; null when it could not run the model (see `skipped`). */
  independent: (MapPair & { engine: string; metric: string; pycocotools?: MapPair }) | null;
  /** independent − ours; null when skipped. */
  diff: MapPair | null;
  /** Both differences within the tolerance; null when skipped. */
  withinTolerance: boolean | null;
  skipped?: string;
}

/** `bench/results/eval-crosscheck.json`. */
export interface EvalCrosscheckResult {
  images: number;
  boxes: number;
  tolerance: number;
  models: EvalCrosscheckModel[];
  /** Models evaluated both ways. */
  checked: number;
  /** Largest |difference| over the checked models and both metrics. */
  maxAbsDiff: number;
  /** The interpreter of the independent side, with its Python, OpenCV and numpy versions. */
  python: string;
  summary: string;
}

/** A dataset folder (images/ and labels/) of symlinks to the labelled images of `dir`. */
async function labelledDataset(dir: string, into: string): Promise<number> {
  const labels = join(dir, 'labels');
  await mkdir(join(into, 'images'));
  await mkdir(join(into, 'labels'));
  let n = 0;
  for (const f of (await readdir(dir)).sort()) {
    if (!['.jpg', '.jpeg', '.png', '.webp'].includes(extname(f).toLowerCase())) continue;
    const label = join(labels, `${basename(f, extname(f))}.txt`);
    if (!existsSync(label)) continue;
    await symlink(join(dir, f), join(into, 'images', f));
    await symlink(label, join(into, 'labels', basename(label)));
    n++;
  }
  return n;
}

/** The CLI as a child process: the compiled one from dist/, or the sources through tsx. */
function cliCommand(): string[] {
  return import.meta.url.includes('/dist/') ? [join(REPO_ROOT, 'bin', 'yoloscale.js')] : ['--import', 'tsx', join(REPO_ROOT, 'cli', 'entry.ts')];
}

function lastJson<T>(stdout: string, what: string): T {
  const line = stdout.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop();
  if (line === undefined) throw new Error(`${what} printed no JSON`);
  return JSON.parse(line) as T;
}

function ourEval(data: string, modelsDir: string, model: string): MapPair & { images: number; boxes: number } {
  // The CLI prints its JSON over several lines.
  const r = spawnSync(process.execPath, [...cliCommand(), 'eval', '--data', data, '--model', model, '--json'], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
    env: { ...process.env, YOLOSCALE_MODELS: modelsDir, YOLOSCALE_DEVICE: 'cpu' },
  });
  if (r.status !== 0) throw new Error(`yoloscale eval --model ${model} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as MapPair & { images: number; boxes: number };
}

type Independent = (MapPair & { images: number; boxes: number; engine: string; metric: string; pycocotools?: MapPair }) | { skipped: string; engine: string };

function independentEval(python: string, data: string, file: string, family: string, size: number): Independent {
  const r = spawnSync(python, [SCRIPT, '--data', data, '--model-file', file, '--family', family, '--size', String(size)], {
    encoding: 'utf8',
    // No __pycache__ left in bench/ by the import of onnx_numpy.
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.status !== 0) throw new Error(`eval_crosscheck.py failed for ${basename(file)}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return lastJson<Independent>(r.stdout, 'eval_crosscheck.py');
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** Runs both evaluations of every model and writes `bench/results/eval-crosscheck.json`. */
export async function runEvalCrosscheck(opts: EvalCrosscheckOptions = {}): Promise<EvalCrosscheckResult> {
  const imagesDir = resolve(opts.images ?? join(REPO_ROOT, '..', 'shared', 'images'));
  const modelsDir = resolve(opts.modelsDir ?? process.env.YOLOSCALE_MODELS ?? join(REPO_ROOT, '..', 'shared', 'models'));
  const ids = opts.models ?? BUILTIN_MODELS.map((m) => m.id);
  const outDir = resolve(opts.outDir ?? join(REPO_ROOT, 'bench', 'results'));
  const python = findPython(opts.python);
  const tmp = await mkdtemp(join(tmpdir(), 'yoloscale-xcheck-'));
  const models: EvalCrosscheckModel[] = [];
  let images = 0;
  let boxes = 0;
  try {
    if ((await labelledDataset(imagesDir, tmp)) === 0) throw new Error(`no labelled images in ${imagesDir} (labels/NAME.txt beside NAME.jpg)`);
    for (const id of ids) {
      const m = BUILTIN_MODELS.find((d) => d.id === id);
      if (m === undefined) throw new TypeError(`options.models: ${id} is not a built-in model`);
      const ours = ourEval(tmp, modelsDir, id);
      images = ours.images;
      boxes = ours.boxes;
      const ind = independentEval(python, tmp, join(modelsDir, m.file), m.family, m.input.size);
      const base = { model: id, file: m.file, family: m.family, ours: { map50: ours.map50, map50_95: ours.map50_95 } };
      if ('skipped' in ind) {
        models.push({ ...base, independent: null, diff: null, withinTolerance: null, skipped: ind.skipped });
        continue;
      }
      if (ind.images !== ours.images || ind.boxes !== ours.boxes) {
        throw new Error(`${id}: the two sides read different data (${ours.images} images/${ours.boxes} boxes vs ${ind.images}/${ind.boxes})`);
      }
      const diff = { map50: round6(ind.map50 - ours.map50), map50_95: round6(ind.map50_95 - ours.map50_95) };
      models.push({
        ...base,
        independent: { map50: ind.map50, map50_95: ind.map50_95, engine: ind.engine, metric: ind.metric, ...(ind.pycocotools ? { pycocotools: ind.pycocotools } : {}) },
        diff,
        withinTolerance: Math.abs(diff.map50) <= MAP_TOLERANCE && Math.abs(diff.map50_95) <= MAP_TOLERANCE,
      });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const checked = models.filter((m) => m.diff !== null);
  const maxAbsDiff = checked.reduce((s, m) => Math.max(s, Math.abs(m.diff?.map50 ?? 0), Math.abs(m.diff?.map50_95 ?? 0)), 0);
  const version = spawnSync(python, ['-c', 'import sys, cv2, numpy; print(sys.version.split()[0], "cv2", cv2.__version__, "numpy", numpy.__version__)'], { encoding: 'utf8' });
  const result: EvalCrosscheckResult = {
    images,
    boxes,
    tolerance: MAP_TOLERANCE,
    models,
    checked: checked.length,
    maxAbsDiff: round6(maxAbsDiff),
    python: `${python}: Python ${version.stdout.trim()}`,
    summary:
      `eval-crosscheck on ${images} images/${boxes} boxes: ${checked.length} of ${models.length} models checked, ` +
      `${checked.filter((m) => m.withinTolerance).length} within ${MAP_TOLERANCE}, largest |diff| ${round6(maxAbsDiff)}` +
      (models.length > checked.length ? `; skipped ${models.filter((m) => m.skipped).map((m) => m.model).join(', ')}` : ''),
  };
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'eval-crosscheck.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

// `npx tsx bench/eval-crosscheck.ts [--models a,b] [--images DIR] [--out DIR]`
if (isMainModule(import.meta.url)) {
  const { get } = scriptFlags();
  const r = await runEvalCrosscheck({
    ...(get('models') ? { models: String(get('models')).split(',') } : {}),
    ...(get('images') ? { images: get('images') } : {}),
    ...(get('out') ? { outDir: get('out') } : {}),
  });
  process.stdout.write(`${r.summary}\n`);
}
