/**
 * The one module that imports `onnxruntime-node`. Everything else sees a
 * small {@link ModelSession} interface with plain typed arrays, so tests and
 * other code never touch ORT types.
 *
 * Execution providers per SPEC.md §12: `cpu` → CPU; `cuda` → CUDA or a clear
 * error; `auto` → CUDA, and CPU when CUDA does not load. With the CUDA
 * provider files absent (or present without CUDA libraries) onnxruntime
 * throws from session creation instead of falling back, so `auto` retries
 * with CPU alone and records why.
 */
import ort from 'onnxruntime-node';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import { messageField, textField, varintField, writeFields } from './protobuf.js';

// Provider probing makes onnxruntime print load failures on stderr; they are
// surfaced as exceptions instead.
ort.env.logLevel = 'fatal';

/** What a user asks for (`--device`, `YOLOSCALE_DEVICE`). */
export type DeviceRequest = 'auto' | 'cuda' | 'cpu';

/** What a session actually runs on. */
export type ExecutionProvider = 'cuda' | 'cpu';

/** Every accepted {@link DeviceRequest}. */
export const DEVICE_REQUESTS: readonly DeviceRequest[] = Object.freeze(['auto', 'cuda', 'cpu']);

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  device: DeviceRequest;
  /** Threads one `run` may use on CPU (onnxruntime's intra-op pool); default: onnxruntime's choice. */
  intraOpNumThreads?: number;
}

/** A dense tensor as plain data; float16 values are half bits in a Uint16Array. */
export interface TensorData {
  data: Float32Array | Uint16Array;
  dims: readonly number[];
}

/** A session output: element type plus data. */
export interface OutputTensor extends TensorData {
  type: 'float32' | 'float16';
}

/** One loaded model. */
export interface ModelSession {
  /** Provider the session runs on. */
  readonly provider: ExecutionProvider;
  /** Why `auto` fell back to CPU, or null. */
  readonly fallbackReason: string | null;
  readonly inputName: string;
  /** Input dims; symbolic ones as strings (e.g. `batch`). */
  readonly inputDims: ReadonlyArray<number | string>;
  readonly inputType: 'float32' | 'float16';
  readonly outputNames: readonly string[];
  /** Runs the model on one input tensor and returns the first output. */
  run(input: TensorData): Promise<OutputTensor>;
  /** Runs the model and returns every output by name. */
  runAll(input: TensorData): Promise<Record<string, OutputTensor>>;
  release(): Promise<void>;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

function providersFor(p: ExecutionProvider): string[] {
  return p === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
}

async function create(
  model: string | Uint8Array,
  provider: ExecutionProvider,
  intraOpNumThreads: number | undefined,
): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providersFor(provider),
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
    ...(intraOpNumThreads !== undefined ? { intraOpNumThreads } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

function cudaError(err: unknown): YoloscaleError {
  return new YoloscaleError(
    ErrorCode.internal,
    `the CUDA execution provider did not load (${firstLine(err)}); run \`npm run setup:cuda\` on a host with the CUDA runtime, cuBLAS and cuDNN, or use --device cpu`,
    { cause: err },
  );
}

class OrtModelSession implements ModelSession {
  readonly provider: ExecutionProvider;
  readonly fallbackReason: string | null;
  readonly inputName: string;
  readonly inputDims: ReadonlyArray<number | string>;
  readonly inputType: 'float32' | 'float16';
  readonly outputNames: readonly string[];
  #session: ort.InferenceSession;

  constructor(session: ort.InferenceSession, provider: ExecutionProvider, fallbackReason: string | null) {
    this.#session = session;
    this.provider = provider;
    this.fallbackReason = fallbackReason;
    const meta = session.inputMetadata[0];
    if (!meta || !meta.isTensor) throw new Error('the model has no tensor input');
    this.inputName = meta.name;
    this.inputDims = Object.freeze([...meta.shape]);
    if (meta.type !== 'float32' && meta.type !== 'float16') {
      throw new Error(`input ${meta.name} has type ${meta.type}; only float32 and float16 are supported`);
    }
    this.inputType = meta.type;
    this.outputNames = Object.freeze([...session.outputNames]);
  }

  async runAll(input: TensorData): Promise<Record<string, OutputTensor>> {
    const tensor = new ort.Tensor(this.inputType, input.data, input.dims);
    const result = await this.#session.run({ [this.inputName]: tensor });
    const out: Record<string, OutputTensor> = {};
    for (const name of this.outputNames) {
      const t = result[name];
      if (!t) continue;
      if (t.type !== 'float32' && t.type !== 'float16') throw new Error(`output ${name} has type ${t.type}`);
      out[name] = { type: t.type, data: t.data as Float32Array | Uint16Array, dims: t.dims };
    }
    return out;
  }

  async run(input: TensorData): Promise<OutputTensor> {
    const all = await this.runAll(input);
    const first = all[this.outputNames[0]!];
    if (!first) throw new Error('the model returned no output');
    return first;
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}

/**
 * Opens a model on the requested device. `cuda` fails with a clear
 * `YoloscaleError` when the provider does not load; `auto` falls back to CPU
 * and reports why in `fallbackReason`.
 */
export async function openSession(model: string | Uint8Array, opts: OpenSessionOptions): Promise<ModelSession> {
  if (!DEVICE_REQUESTS.includes(opts.device)) throw new TypeError('options.device must be one of auto, cuda, cpu');
  if (opts.intraOpNumThreads !== undefined && (!Number.isInteger(opts.intraOpNumThreads) || opts.intraOpNumThreads < 0)) {
    throw new TypeError('options.intraOpNumThreads must be a non-negative integer');
  }
  if (opts.device === 'cpu') return new OrtModelSession(await create(model, 'cpu', opts.intraOpNumThreads), 'cpu', null);
  try {
    return new OrtModelSession(await create(model, 'cuda', opts.intraOpNumThreads), 'cuda', null);
  } catch (err) {
    if (opts.device === 'cuda') throw cudaError(err);
    const session = await create(model, 'cpu', opts.intraOpNumThreads);
    return new OrtModelSession(session, 'cpu', firstLine(err));
  }
}

let probeModel: Uint8Array | null = null;

/** A tiny valid ONNX model (Identity on a float vector) for probing providers. */
export function identityModel(): Uint8Array {
  if (probeModel) return probeModel;
  const valueInfo = (no: number, name: string) =>
    messageField(no, [
      textField(1, name),
      messageField(2, [messageField(1, [varintField(1, 1), messageField(2, [messageField(1, [varintField(1, 1)])])])]),
    ]);
  const graph = messageField(7, [
    messageField(1, [textField(1, 'x'), textField(2, 'y'), textField(4, 'Identity')]),
    textField(2, 'probe'),
    valueInfo(11, 'x'),
    valueInfo(12, 'y'),
  ]);
  probeModel = writeFields([varintField(1, 7), graph, messageField(8, [textField(1, ''), varintField(2, 13)])]);
  return probeModel;
}

/** Result of {@link probeDevice}. */
export interface DeviceProbe {
  provider: ExecutionProvider;
  /** Why `auto` chose CPU, or null when it chose what was asked. */
  fallbackReason: string | null;
}

/**
 * Decides the provider for a device request by opening a tiny model.
 * `cuda` throws when CUDA does not load.
 */
export async function probeDevice(device: DeviceRequest): Promise<DeviceProbe> {
  const s = await openSession(identityModel(), { device, intraOpNumThreads: 1 });
  const probe = { provider: s.provider, fallbackReason: s.fallbackReason };
  await s.release();
  return probe;
}
