/**
 * Works out how to run an unknown ONNX detector from its graph inputs,
 * outputs and metadata (pure; the file is parsed by `onnx-file.ts`).
 */
import { COCO_CLASSES } from './coco.js';
import { OnnxElemType } from './onnx-file.js';
import type { OnnxSummary } from './onnx-file.js';
import { MODEL_FAMILIES } from './models.js';
import type { ModelFamily } from './models.js';

/** What {@link inspectModel} found out. */
export interface ModelInspection {
  family: ModelFamily;
  /** Square input side in pixels. */
  size: number;
  inputDtype: 'float32' | 'float16';
  outputDtype: 'float32' | 'float16';
  classNames: string[];
  /** True when the input's batch dimension is symbolic or unknown. */
  dynamicBatch: boolean;
  /** Why the family was chosen, for logs and CLI output. */
  reason: string;
}

/** Options of {@link inspectModel}. */
export interface InspectOptions {
  /** Force the family instead of detecting it. */
  family?: ModelFamily;
  /** Input side to use when the graph's height/width are symbolic. */
  size?: number;
}

/** Thrown when a file does not look like a detector the engine can decode. */
export class ModelInspectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelInspectionError';
  }
}

/**
 * Parses Ultralytics `names` metadata: a Python dict literal such as
 * `{0: 'person', 1: "women's"}`, or a JSON object/array. Returns null when absent
 * or unreadable.
 */
export function parseClassNames(text: string | undefined): string[] | null {
  if (!text) return null;
  try {
    const j: unknown = JSON.parse(text);
    if (Array.isArray(j) && j.every((x) => typeof x === 'string')) return j as string[];
    if (j && typeof j === 'object') {
      const entries = Object.entries(j as Record<string, unknown>);
      if (entries.every(([k, v]) => /^\d+$/.test(k) && typeof v === 'string')) {
        const out: string[] = [];
        for (const [k, v] of entries) out[Number(k)] = v as string;
        return out.every((x) => typeof x === 'string') ? out : null;
      }
    }
  } catch {
    // not JSON: try the Python literal below
  }
  const re = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  const out: string[] = [];
  let count = 0;
  for (const m of text.matchAll(re)) {
    const raw = m[2] ?? m[3] ?? '';
    out[Number(m[1])] = raw.replace(/\\(.)/g, '$1');
    count++;
  }
  if (count === 0 || count !== out.length) return null;
  return out;
}

/** Number of anchor-free grid cells for strides 8, 16 and 32 at a square input. */
export function gridCells(size: number): number {
  let n = 0;
  for (const s of [8, 16, 32]) n += Math.ceil(size / s) ** 2;
  return n;
}

function dtypeOf(elemType: number, what: string): 'float32' | 'float16' {
  if (elemType === OnnxElemType.float) return 'float32';
  if (elemType === OnnxElemType.float16) return 'float16';
  throw new ModelInspectionError(`${what} has element type ${elemType}; only float32 and float16 are supported`);
}

function defaultNames(count: number): string[] {
  if (count === COCO_CLASSES.length) return [...COCO_CLASSES];
  return Array.from({ length: count }, (_, i) => `class${i}`);
}

/**
 * Detects the family, input size, dtypes and class names of a detector.
 *
 * Rules: `[B,K,6]` with `end2end`/`v10Detect` metadata (or K > 6) is YOLOv10;
 * `[B,4+C,N]` with fewer rows than columns is Ultralytics channel-major;
 * `[B,N,5+C]` is YOLOX when N equals the anchor-free grid count at strides
 * 8/16/32 and YOLOv5 when it is three times that (or when only `stride`
 * metadata is present).
 */
export function inspectModel(summary: OnnxSummary, opts: InspectOptions = {}): ModelInspection {
  if (opts.family !== undefined && !MODEL_FAMILIES.includes(opts.family)) {
    throw new ModelInspectionError(`family must be one of ${MODEL_FAMILIES.join(', ')}`);
  }
  if (summary.inputs.length !== 1) {
    throw new ModelInspectionError(`expected one image input, found ${summary.inputs.length}`);
  }
  const input = summary.inputs[0]!;
  if (input.dims.length !== 4 || (input.dims[1] !== 3 && typeof input.dims[1] === 'number')) {
    throw new ModelInspectionError(`input ${input.name} has shape [${input.dims.join(',')}]; expected [N,3,H,W]`);
  }
  const h = input.dims[2];
  const w = input.dims[3];
  let size: number;
  if (typeof h === 'number' && typeof w === 'number') {
    if (h !== w) throw new ModelInspectionError(`input ${input.name} is ${w}×${h}; only square inputs are supported`);
    size = h;
  } else if (opts.size !== undefined) {
    size = opts.size;
  } else {
    throw new ModelInspectionError(`input ${input.name} has a symbolic height/width; give the input size`);
  }
  const inputDtype = dtypeOf(input.elemType, `input ${input.name}`);
  const out = summary.outputs[0];
  if (!out) throw new ModelInspectionError('the model has no outputs');
  const outputDtype = dtypeOf(out.elemType, `output ${out.name}`);
  if (out.dims.length !== 3) {
    throw new ModelInspectionError(`output ${out.name} has shape [${out.dims.join(',')}]; expected three dimensions`);
  }
  const a = typeof out.dims[1] === 'number' ? out.dims[1] : -1;
  const b = typeof out.dims[2] === 'number' ? out.dims[2] : -1;
  const md = summary.metadata;
  const names = parseClassNames(md.names);
  const grid = gridCells(size);
  const dynamicBatch = typeof input.dims[0] !== 'number';

  let family: ModelFamily;
  let reason: string;
  if (opts.family) {
    family = opts.family;
    reason = 'forced';
  } else if (b === 6 && (md.end2end === 'True' || md.head === 'v10Detect' || a > 6)) {
    family = 'yolov10';
    reason = `output [*,${a},6] end-to-end${md.end2end ? ' (metadata end2end)' : ''}`;
  } else if (a > 4 && b > a) {
    family = 'ultralytics';
    reason = `channel-major output [*,${a},${b}]`;
  } else if (b > 5 && a > b) {
    if (a === grid && md.stride === undefined) {
      family = 'yolox';
      reason = `row-major output with ${a} = grid cells at strides 8/16/32`;
    } else if (a === 3 * grid || md.stride !== undefined) {
      family = 'yolov5';
      reason = a === 3 * grid ? `row-major output with ${a} = 3 anchors × grid cells` : 'row-major output with stride metadata';
    } else {
      throw new ModelInspectionError(`output [*,${a},${b}] matches neither YOLOX (${grid} rows) nor YOLOv5 (${3 * grid} rows); force the family`);
    }
  } else {
    throw new ModelInspectionError(`cannot tell the family from output shape [${out.dims.join(',')}]; force the family`);
  }

  let classCount: number;
  if (family === 'ultralytics') classCount = a - 4;
  else if (family === 'yolox' || family === 'yolov5') classCount = b - 5;
  else classCount = names?.length ?? COCO_CLASSES.length;
  if (classCount <= 0) throw new ModelInspectionError(`output shape [${out.dims.join(',')}] leaves no class columns for ${family}`);
  const classNames = names && names.length === classCount ? names : defaultNames(classCount);
  return { family, size, inputDtype, outputDtype, classNames, dynamicBatch, reason };
}
