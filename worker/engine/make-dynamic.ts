/**
 * `models make-dynamic IN OUT` (SPEC.md §3): rewrites a model exported with
 * a fixed batch of 1 so its batch dimension is symbolic, then proves the
 * result by comparing one batch of N against N single runs. Nothing is
 * written unless the proof passes.
 *
 * The rewrite edits the protobuf directly: graph input/output dim 0 becomes
 * `dim_param`, `value_info` shape hints are dropped (onnxruntime re-infers
 * them), constant `Reshape` shapes that start with 1 (on tensors computed
 * from the input, not from weights) get -1 or 0 in a fresh initializer, and a
 * `Resize` to constant sizes `[1,…]` takes its batch from its input through
 * `Concat(Gather(Shape(X),[0]), sizes[1:])`. A graph that pins the batch in a
 * way that cannot be fixed safely (a `Slice` of the batch axis to 1) is
 * refused with the node named; anything else the rewrite misses is caught by
 * the proof.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCode, YoloscaleError, silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import { inspectModel } from './detect-family.js';
import { float32ToHalfArray, halfToFloatTable } from './float16.js';
import { OnnxElemType, OnnxField, parseOnnx, tensorInt64Values, tensorName } from './onnx-file.js';
import { openSession } from './ort.js';
import type { OutputTensor } from './ort.js';
import { fieldText, messageField, readFields, textField, varintField, writeFields } from './protobuf.js';
import type { PbField } from './protobuf.js';

/** What {@link rewriteDynamicBatch} changed. */
export interface DynamicRewrite {
  bytes: Uint8Array;
  /** Graph inputs and outputs whose dim 0 became symbolic. */
  tensors: string[];
  /** Reshape nodes whose constant shape now infers the batch. */
  reshapes: string[];
  /** Resize nodes whose constant output sizes now take the batch from their input. */
  resizes: string[];
  /** value_info entries dropped. */
  droppedValueInfo: number;
}

function refuse(message: string): YoloscaleError {
  return new YoloscaleError(ErrorCode.badRequest, `cannot make the batch dynamic: ${message}`);
}

/** Rewrites dim 0 of a ValueInfoProto to `dim_param: name`; returns null when it is not a fixed 1. */
function rewriteValueInfo(raw: Uint8Array, dimName: string): { raw: Uint8Array; name: string } {
  const vi = readFields(raw);
  const name = fieldText(vi.find((f) => f.no === OnnxField.valueInfo.name) ?? textField(1, ''));
  const typeIdx = vi.findIndex((f) => f.no === OnnxField.valueInfo.type && f.wt === 2);
  if (typeIdx < 0) throw refuse(`${name} has no type`);
  const type = readFields((vi[typeIdx] as { raw: Uint8Array }).raw);
  const ttIdx = type.findIndex((f) => f.no === OnnxField.type.tensorType && f.wt === 2);
  if (ttIdx < 0) throw refuse(`${name} is not a tensor`);
  const tt = readFields((type[ttIdx] as { raw: Uint8Array }).raw);
  const shIdx = tt.findIndex((f) => f.no === OnnxField.tensorType.shape && f.wt === 2);
  if (shIdx < 0) throw refuse(`${name} has no shape`);
  const shape = readFields((tt[shIdx] as { raw: Uint8Array }).raw);
  const d0 = shape.findIndex((f) => f.no === OnnxField.shape.dim && f.wt === 2);
  if (d0 < 0) throw refuse(`${name} is a scalar`);
  const dim = readFields((shape[d0] as { raw: Uint8Array }).raw);
  const value = dim.find((f) => f.no === OnnxField.dim.value);
  if (!value || value.wt !== 0 || value.value !== 1n) {
    const param = dim.find((f) => f.no === OnnxField.dim.param);
    throw refuse(param ? `${name} already has a symbolic batch (${fieldText(param)})` : `${name} does not have a batch of 1`);
  }
  shape[d0] = messageField(OnnxField.shape.dim, [textField(OnnxField.dim.param, dimName)]);
  tt[shIdx] = messageField(OnnxField.tensorType.shape, shape);
  type[ttIdx] = messageField(OnnxField.type.tensorType, tt);
  vi[typeIdx] = messageField(OnnxField.valueInfo.type, type);
  return { raw: writeFields(vi), name };
}

function int64Tensor(name: string, values: number[]): PbField {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return messageField(OnnxField.graph.initializer, [
    varintField(OnnxField.tensor.dims, values.length),
    varintField(OnnxField.tensor.dataType, OnnxElemType.int64),
    textField(OnnxField.tensor.name, name),
    { no: OnnxField.tensor.rawData, wt: 2, raw },
  ]);
}

/** A NodeProto with inputs, outputs, name, op type and an optional int `axis` attribute. */
function simpleNode(opType: string, inputs: string[], outputs: string[], name: string, axis?: number): PbField {
  const fields: PbField[] = [
    ...inputs.map((i) => textField(OnnxField.node.input, i)),
    ...outputs.map((o) => textField(OnnxField.node.output, o)),
    textField(OnnxField.node.name, name),
    textField(OnnxField.node.opType, opType),
  ];
  // AttributeProto.type 2 = INT.
  if (axis !== undefined) fields.push(messageField(OnnxField.node.attribute, [textField(OnnxField.attribute.name, 'axis'), varintField(OnnxField.attribute.i, axis), varintField(20, 2)]));
  return messageField(OnnxField.graph.node, fields);
}

/** A node's fields with input number `index` renamed. */
function replaceInput(fields: readonly PbField[], index: number, name: string): PbField[] {
  let seen = -1;
  return fields.map((f) => {
    if (f.no !== OnnxField.node.input) return f;
    seen++;
    return seen === index ? textField(OnnxField.node.input, name) : f;
  });
}

interface NodeView {
  index: number;
  fields: PbField[];
  opType: string;
  name: string;
  inputs: string[];
  attrs: Map<string, PbField[]>;
}

function viewNode(index: number, raw: Uint8Array): NodeView {
  const fields = readFields(raw);
  const inputs: string[] = [];
  const attrs = new Map<string, PbField[]>();
  let opType = '';
  let name = '';
  for (const f of fields) {
    if (f.no === OnnxField.node.input) inputs.push(fieldText(f));
    else if (f.no === OnnxField.node.opType) opType = fieldText(f);
    else if (f.no === OnnxField.node.name) name = fieldText(f);
    else if (f.no === OnnxField.node.attribute && f.wt === 2) {
      const a = readFields(f.raw);
      const n = a.find((x) => x.no === OnnxField.attribute.name);
      if (n) attrs.set(fieldText(n), a);
    }
  }
  return { index, fields, opType, name, inputs, attrs };
}

function attrInt(attrs: Map<string, PbField[]>, name: string): number | undefined {
  const a = attrs.get(name);
  const i = a?.find((f) => f.no === OnnxField.attribute.i);
  return i && i.wt === 0 ? Number(BigInt.asIntN(64, i.value)) : undefined;
}

/**
 * Pure rewrite of a fixed batch-1 model to a symbolic batch `dimName`.
 * Throws a `bad_request` YoloscaleError naming what blocks it.
 */
export function rewriteDynamicBatch(bytes: Uint8Array, dimName = 'batch'): DynamicRewrite {
  const summary = parseOnnx(bytes);
  const model = readFields(bytes);
  const gIdx = model.findIndex((f) => f.no === OnnxField.model.graph && f.wt === 2);
  const graph = readFields((model[gIdx] as { raw: Uint8Array }).raw);

  // Constant int64 tensors by name: initializers and Constant nodes.
  const constants = new Map<string, () => number[] | null>();
  for (const f of graph) {
    if (f.no === OnnxField.graph.initializer && f.wt === 2) {
      const raw = f.raw;
      constants.set(tensorName(raw), () => tensorInt64Values(raw));
    }
  }
  const nodes: NodeView[] = [];
  graph.forEach((f, i) => {
    if (f.no === OnnxField.graph.node && f.wt === 2) nodes.push(viewNode(i, f.raw));
  });
  for (const n of nodes) {
    if (n.opType !== 'Constant') continue;
    const t = n.attrs.get('value')?.find((f) => f.no === OnnxField.attribute.t);
    const out = n.fields.find((f) => f.no === OnnxField.node.output);
    if (t && t.wt === 2 && out) {
      const raw = t.raw;
      constants.set(fieldText(out), () => tensorInt64Values(raw));
    }
  }

  const initializerNames = summary.initializers;
  // Tensors computed from constants only (weights, bias shapes): a 1 in their
  // shapes is a real 1, not the batch. ONNX nodes are topologically sorted.
  const constantDerived = new Set<string>([...initializerNames, ...constants.keys()]);
  for (const n of nodes) {
    const outs = n.fields.filter((f) => f.no === OnnxField.node.output).map(fieldText);
    const ins = n.inputs.filter((x) => x !== '');
    if (n.opType === 'Constant' || (ins.length > 0 && ins.every((x) => constantDerived.has(x)))) {
      for (const o of outs) constantDerived.add(o);
    }
  }
  const tensors: string[] = [];
  const reshapes: string[] = [];
  const resizes: string[] = [];
  const added = new Map<string, string>();
  const newFields: PbField[] = [];
  let droppedValueInfo = 0;
  const nodeByIndex = new Map(nodes.map((n) => [n.index, n]));

  for (let i = 0; i < graph.length; i++) {
    const f = graph[i]!;
    if (f.wt !== 2) {
      newFields.push(f);
      continue;
    }
    if (f.no === OnnxField.graph.valueInfo) {
      droppedValueInfo++;
      continue;
    }
    if (f.no === OnnxField.graph.input) {
      const name = fieldText(readFields(f.raw).find((x) => x.no === OnnxField.valueInfo.name) ?? textField(1, ''));
      if (initializerNames.has(name)) {
        newFields.push(f);
        continue;
      }
      const r = rewriteValueInfo(f.raw, dimName);
      tensors.push(r.name);
      newFields.push({ no: f.no, wt: 2, raw: r.raw });
      continue;
    }
    if (f.no === OnnxField.graph.output) {
      const r = rewriteValueInfo(f.raw, dimName);
      tensors.push(r.name);
      newFields.push({ no: f.no, wt: 2, raw: r.raw });
      continue;
    }
    const node = nodeByIndex.get(i);
    if (!node) {
      newFields.push(f);
      continue;
    }
    const label = `${node.opType} node ${node.name || `#${nodes.indexOf(node)}`}`;
    if (node.opType === 'Resize' && node.inputs[3]) {
      const sizes = constants.get(node.inputs[3])?.();
      if (sizes && sizes[0] === 1 && !constantDerived.has(node.inputs[0] ?? '')) {
        // sizes = Concat(Gather(Shape(X), [0]), sizes[1:]): the batch follows the input.
        const base = `${node.name || node.inputs[3]}__${dimName}`;
        if (!added.has('\u0000index0')) {
          added.set('\u0000index0', `${dimName}__index0`);
          newFields.push(int64Tensor(`${dimName}__index0`, [0]));
        }
        newFields.push(int64Tensor(`${base}_rest`, sizes.slice(1)));
        newFields.push(simpleNode('Shape', [node.inputs[0]!], [`${base}_shape`], `${base}_Shape`));
        newFields.push(simpleNode('Gather', [`${base}_shape`, `${dimName}__index0`], [`${base}_dim`], `${base}_Gather`, 0));
        newFields.push(simpleNode('Concat', [`${base}_dim`, `${base}_rest`], [`${base}_sizes`], `${base}_Concat`, 0));
        newFields.push(messageField(OnnxField.graph.node, replaceInput(node.fields, 3, `${base}_sizes`)));
        resizes.push(node.name || node.inputs[3]);
        continue;
      }
    }
    if (node.opType === 'Slice' && node.inputs.length >= 3) {
      const ends = constants.get(node.inputs[2]!)?.();
      const axesName = node.inputs[3];
      // Without an axes input, position k of starts/ends is axis k.
      const axes = axesName ? constants.get(axesName)?.() : [0];
      const pos = axes ? axes.indexOf(0) : -1;
      if (ends && pos >= 0 && pos < ends.length && ends[pos] === 1) throw refuse(`${label} slices the batch axis to 1`);
    }
    if (node.opType === 'Reshape' && node.inputs[1]) {
      const shapeName = node.inputs[1];
      const values = constants.get(shapeName)?.();
      if (values && values[0] === 1 && !constantDerived.has(node.inputs[0] ?? '')) {
        const allowZero = attrInt(node.attrs, 'allowzero') === 1;
        let replacement: number[];
        // -1 infers the batch; where another dim is already inferred, 0 copies the input's dim 0.
        if (!values.includes(-1)) replacement = [-1, ...values.slice(1)];
        else if (!allowZero) replacement = [0, ...values.slice(1)];
        else throw refuse(`${label} has shape [${values.join(',')}] with allowzero and an inferred dimension`);
        const key = `${shapeName}\u0000${replacement.join(',')}`;
        let newName = added.get(key);
        if (!newName) {
          newName = `${shapeName}__${dimName}_dynamic`;
          added.set(key, newName);
          newFields.push(int64Tensor(newName, replacement));
        }
        newFields.push(messageField(OnnxField.graph.node, replaceInput(node.fields, 1, newName)));
        reshapes.push(node.name || shapeName);
        continue;
      }
    }
    newFields.push(f);
  }
  if (tensors.length === 0) throw refuse('the graph has no inputs or outputs');
  // Initializers must precede nothing in particular, but old IR versions need them listed as inputs.
  if (summary.irVersion < 4 && added.size > 0) throw refuse(`IR version ${summary.irVersion} is too old to add constants`);
  model[gIdx] = messageField(OnnxField.model.graph, newFields);
  return { bytes: writeFields(model), tensors, reshapes, resizes, droppedValueInfo };
}

/** Options of {@link makeDynamic}. */
export interface MakeDynamicOptions {
  /** Batch size of the proof (default 4). */
  batch?: number;
  /** Allowed |batched − single| per element: `atol + rtol·|single|` (defaults 1e-3 each; 1e-2 for float16 outputs). */
  atol?: number;
  rtol?: number;
  /** Name of the symbolic batch dimension (default `batch`). */
  dimName?: string;
  logger?: Logger;
}

/** What {@link makeDynamic} proved and wrote. */
export interface MakeDynamicReport {
  input: string;
  output: string;
  batch: number;
  /** Largest |batched − single| over every output element of the proof. */
  maxAbsDiff: number;
  /** Largest |rewritten − original| for one image at batch 1. */
  maxAbsDiffVsOriginal: number;
  atol: number;
  rtol: number;
  reshapes: number;
  tensors: string[];
}

/** Deterministic pseudo-random input in [0, scale). */
function noise(n: number, seed: number, scale: number, fp16: boolean): Float32Array | Uint16Array {
  let s = seed >>> 0 || 1;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[i] = (s / 4294967296) * scale;
  }
  return fp16 ? float32ToHalfArray(f) : f;
}

function values(t: OutputTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const lut = halfToFloatTable();
  return Float32Array.from(t.data, (h) => lut[h]!);
}

interface Compare {
  maxAbs: number;
  ok: boolean;
}

function compare(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number, atol: number, rtol: number): Compare {
  let maxAbs = 0;
  let ok = true;
  for (let i = 0; i < n; i++) {
    const x = a[aOff + i]!;
    const y = b[bOff + i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return { maxAbs: Infinity, ok: false };
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (d > atol + rtol * Math.abs(y)) ok = false;
  }
  return { maxAbs, ok };
}

/**
 * Rewrites `inPath` to a dynamic batch, proves it (one batch of N against N
 * single runs, plus batch 1 against the original) and only then writes
 * `outPath` atomically. Throws `bad_request` when the graph cannot be made
 * dynamic or the proof fails (with the measured difference in the message).
 */
export async function makeDynamic(inPath: string, outPath: string, opts: MakeDynamicOptions = {}): Promise<MakeDynamicReport> {
  const batch = opts.batch ?? 4;
  if (!Number.isInteger(batch) || batch < 2 || batch > 64) throw new TypeError('options.batch must be an integer from 2 to 64');
  const logger = opts.logger ?? silentLogger;
  const src = resolve(inPath);
  const dest = resolve(outPath);
  let original: Uint8Array;
  try {
    original = await readFile(src);
  } catch (err) {
    throw new YoloscaleError(ErrorCode.notFound, `cannot read ${src}: ${(err as Error).message}`, { cause: err });
  }
  let rewrite: DynamicRewrite;
  try {
    rewrite = rewriteDynamicBatch(original, opts.dimName ?? 'batch');
  } catch (err) {
    if (err instanceof YoloscaleError) throw err;
    throw new YoloscaleError(ErrorCode.badRequest, `${src} is not a readable ONNX model: ${(err as Error).message}`, { cause: err });
  }
  const summary = parseOnnx(original);
  const input = summary.inputs[0]!;
  const fp16In = input.elemType === OnnxElemType.float16;
  const fp16Out = summary.outputs.some((o) => o.elemType === OnnxElemType.float16);
  const atol = opts.atol ?? (fp16Out ? 1e-2 : 1e-3);
  const rtol = opts.rtol ?? (fp16Out ? 1e-2 : 1e-3);
  const shape = input.dims.slice(1);
  if (!shape.every((d): d is number => typeof d === 'number' && d > 0)) throw refuse(`input ${input.name} has symbolic dims besides the batch`);
  let scale = 1;
  try {
    if (inspectModel(summary).family === 'yolox') scale = 255;
  } catch {
    // Not a recognised detector: unit-range noise still exercises the graph.
  }
  const per = shape.reduce((a, d) => a * d, 1);
  logger.info({ input: src, reshapes: rewrite.reshapes.length, batch }, 'rewrote the batch dimension; proving it');

  const dyn = await openSession(rewrite.bytes, { device: 'cpu' }).catch((err: unknown) => {
    throw new YoloscaleError(ErrorCode.badRequest, `the rewritten model does not load: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  });
  const orig = await openSession(original, { device: 'cpu' });
  try {
    const inputs = Array.from({ length: batch }, (_, k) => noise(per, 12345 + k * 7919, scale, fp16In));
    const singles: Array<Record<string, OutputTensor>> = [];
    for (const x of inputs) singles.push(await dyn.runAll({ data: x, dims: [1, ...shape] }));
    const stacked = fp16In ? new Uint16Array(per * batch) : new Float32Array(per * batch);
    inputs.forEach((x, k) => stacked.set(x, k * per));
    let batched: Record<string, OutputTensor>;
    try {
      batched = await dyn.runAll({ data: stacked, dims: [batch, ...shape] });
    } catch (err) {
      throw refuse(`a batch of ${batch} does not run: ${(err as Error).message.split('\n')[0]}`);
    }
    let maxAbsDiff = 0;
    let ok = true;
    for (const name of dyn.outputNames) {
      const b = batched[name]!;
      if (b.dims[0] !== batch) throw refuse(`output ${name} has ${b.dims[0]} rows for a batch of ${batch}`);
      const bv = values(b);
      const n = bv.length / batch;
      for (let k = 0; k < batch; k++) {
        const sv = values(singles[k]![name]!);
        if (sv.length !== n) throw refuse(`output ${name} changes size with the batch`);
        const c = compare(bv, k * n, sv, 0, n, atol, rtol);
        maxAbsDiff = Math.max(maxAbsDiff, c.maxAbs);
        ok &&= c.ok;
      }
    }
    const ref = await orig.runAll({ data: inputs[0]!, dims: [1, ...shape] });
    let maxAbsDiffVsOriginal = 0;
    for (const name of orig.outputNames) {
      const a = values(singles[0]![name]!);
      const c = compare(a, 0, values(ref[name]!), 0, a.length, atol, rtol);
      maxAbsDiffVsOriginal = Math.max(maxAbsDiffVsOriginal, c.maxAbs);
      ok &&= c.ok;
    }
    if (!ok) {
      const quantized = summary.nodes.some((n) => n.opType === 'DynamicQuantizeLinear');
      const hint = quantized ? ' (DynamicQuantizeLinear picks one scale for the whole batch, so images change each other\'s results)' : '';
      throw new YoloscaleError(
        ErrorCode.badRequest,
        `the dynamic-batch model is not equivalent: a batch of ${batch} differs from ${batch} single runs by up to ${maxAbsDiff.toPrecision(3)} (batch 1 vs original: ${maxAbsDiffVsOriginal.toPrecision(3)}; tolerance ${atol} + ${rtol}·|x|)${hint}; nothing written`,
        { details: { maxAbsDiff, maxAbsDiffVsOriginal } },
      );
    }
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, rewrite.bytes);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    logger.info({ output: dest, maxAbsDiff }, 'dynamic batch proved and written');
    return {
      input: src,
      output: dest,
      batch,
      maxAbsDiff,
      maxAbsDiffVsOriginal,
      atol,
      rtol,
      reshapes: rewrite.reshapes.length,
      tensors: rewrite.tensors,
    };
  } finally {
    await dyn.release();
    await orig.release();
  }
}
