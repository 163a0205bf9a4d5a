/**
 * Reads the parts of an ONNX `ModelProto` the engine needs (graph inputs and
 * outputs with their shapes and element types, metadata, nodes and int64
 * constants) with the wire-format walker in `protobuf.ts`.
 */
import { fieldInt, fieldText, readFields, repeatedInt64 } from './protobuf.js';
import type { PbField } from './protobuf.js';

/** ONNX field numbers used by this module and by `make-dynamic.ts`. */
export const OnnxField = Object.freeze({
  model: { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8, metadataProps: 14 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1, param: 2 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  attribute: { name: 1, i: 3, t: 5, ints: 8 },
  tensor: { dims: 1, dataType: 2, int32Data: 5, int64Data: 7, name: 8, rawData: 9 },
  stringEntry: { key: 1, value: 2 },
} as const);

/** ONNX `TensorProto.DataType` values the engine cares about. */
export const OnnxElemType = Object.freeze({ float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10, double: 11 } as const);

/** One dimension: a fixed size, a symbolic name, or unknown (null). */
export type OnnxDim = number | string | null;

/** A graph input or output. */
export interface OnnxValueInfo {
  name: string;
  /** ONNX element type number (1 float, 10 float16, ...). */
  elemType: number;
  dims: OnnxDim[];
}

/** One node, with only what shape rewriting needs. */
export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
}

/** The summary of an ONNX file. */
export interface OnnxSummary {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: Array<{ domain: string; version: number }>;
  metadata: Record<string, string>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNode[];
  /** Names of initializers (weights and constants). */
  initializers: Set<string>;
}

function first(fields: readonly PbField[], no: number): PbField | undefined {
  return fields.find((f) => f.no === no);
}

function sub(fields: readonly PbField[], no: number): PbField[] {
  const f = first(fields, no);
  return f && f.wt === 2 ? readFields(f.raw) : [];
}

/** Parses a `ValueInfoProto`. */
export function parseValueInfo(raw: Uint8Array): OnnxValueInfo {
  const f = readFields(raw);
  const name = fieldText(first(f, OnnxField.valueInfo.name) ?? { no: 1, wt: 2, raw: new Uint8Array() });
  const tensor = sub(sub(f, OnnxField.valueInfo.type), OnnxField.type.tensorType);
  const elem = first(tensor, OnnxField.tensorType.elemType);
  const dims: OnnxDim[] = [];
  for (const d of sub(tensor, OnnxField.tensorType.shape)) {
    if (d.no !== OnnxField.shape.dim || d.wt !== 2) continue;
    const df = readFields(d.raw);
    const v = first(df, OnnxField.dim.value);
    const p = first(df, OnnxField.dim.param);
    dims.push(v ? fieldInt(v) : p ? fieldText(p) : null);
  }
  return { name, elemType: elem ? fieldInt(elem) : 0, dims };
}

function parseNode(raw: Uint8Array): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let opType = '';
  let name = '';
  for (const f of readFields(raw)) {
    if (f.no === OnnxField.node.input) inputs.push(fieldText(f));
    else if (f.no === OnnxField.node.output) outputs.push(fieldText(f));
    else if (f.no === OnnxField.node.opType) opType = fieldText(f);
    else if (f.no === OnnxField.node.name) name = fieldText(f);
  }
  return { opType, name, inputs, outputs };
}

/** Reads the name of a `TensorProto` without decoding its data. */
export function tensorName(raw: Uint8Array): string {
  const f = first(readFields(raw), OnnxField.tensor.name);
  return f ? fieldText(f) : '';
}

/** Decodes an int64 `TensorProto` (raw_data or int64_data); null for other types. */
export function tensorInt64Values(raw: Uint8Array): number[] | null {
  const f = readFields(raw);
  const dt = first(f, OnnxField.tensor.dataType);
  if (!dt || fieldInt(dt) !== OnnxElemType.int64) return null;
  const rawData = first(f, OnnxField.tensor.rawData);
  if (rawData && rawData.wt === 2) {
    const view = new DataView(rawData.raw.buffer, rawData.raw.byteOffset, rawData.raw.byteLength);
    const out: number[] = [];
    for (let i = 0; i + 8 <= rawData.raw.byteLength; i += 8) out.push(Number(view.getBigInt64(i, true)));
    return out;
  }
  return repeatedInt64(f, OnnxField.tensor.int64Data);
}

/** Parses an ONNX file's bytes into an {@link OnnxSummary}; throws on malformed input. */
export function parseOnnx(bytes: Uint8Array): OnnxSummary {
  const model = readFields(bytes);
  const graphField = first(model, OnnxField.model.graph);
  if (!graphField || graphField.wt !== 2) throw new Error('not an ONNX model (no graph)');
  const metadata: Record<string, string> = {};
  const opsets: Array<{ domain: string; version: number }> = [];
  for (const f of model) {
    if (f.no === OnnxField.model.metadataProps && f.wt === 2) {
      const e = readFields(f.raw);
      const k = first(e, OnnxField.stringEntry.key);
      const v = first(e, OnnxField.stringEntry.value);
      if (k) metadata[fieldText(k)] = v ? fieldText(v) : '';
    } else if (f.no === OnnxField.model.opsetImport && f.wt === 2) {
      const e = readFields(f.raw);
      const d = first(e, 1);
      const v = first(e, 2);
      opsets.push({ domain: d ? fieldText(d) : '', version: v ? fieldInt(v) : 0 });
    }
  }
  const graph = readFields(graphField.raw);
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const nodes: OnnxNode[] = [];
  const initializers = new Set<string>();
  for (const f of graph) {
    if (f.wt !== 2) continue;
    if (f.no === OnnxField.graph.input) inputs.push(parseValueInfo(f.raw));
    else if (f.no === OnnxField.graph.output) outputs.push(parseValueInfo(f.raw));
    else if (f.no === OnnxField.graph.node) nodes.push(parseNode(f.raw));
    else if (f.no === OnnxField.graph.initializer) initializers.add(tensorName(f.raw));
  }
  const ir = first(model, OnnxField.model.irVersion);
  const pn = first(model, OnnxField.model.producerName);
  const pv = first(model, OnnxField.model.producerVersion);
  return {
    irVersion: ir ? fieldInt(ir) : 0,
    producerName: pn ? fieldText(pn) : '',
    producerVersion: pv ? fieldText(pv) : '',
    opsets,
    metadata,
    // Old exporters list initializers among the inputs; only real feeds count.
    inputs: inputs.filter((i) => !initializers.has(i.name)),
    outputs,
    nodes,
    initializers,
  };
}
