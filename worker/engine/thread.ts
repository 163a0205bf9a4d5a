/**
 * Entry point of one engine pool thread (piscina). Each thread owns one
 * onnxruntime session per model it has served and does the whole per-frame
 * work itself: decode and letterbox the image, `session.run`, decode the
 * output, NMS. Replies are plain data; failures come back as typed error
 * data, never as thrown errors, so one bad frame never affects another.
 */
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import { prepareImage } from '../image/index.js';
import type { PreparedImage } from '../image/index.js';
import { openSession } from './ort.js';
import type { ModelSession, OutputTensor } from './ort.js';
import { postprocess } from './postprocess.js';
import type { LetterboxGeometry } from './postprocess.js';
import type {
  DetectReply,
  DetectTask,
  InferReply,
  InferTask,
  LoadReply,
  LoadTask,
  PrepareReply,
  PrepareTask,
  RawReply,
  RawTask,
  ThreadError,
  ThreadInit,
  ThreadModel,
  ThreadTask,
} from './thread-messages.js';

const init = Piscina.workerData as ThreadInit;

interface Loaded {
  session: ModelSession;
  /**
   * Free input buffers for single frames, reused once `run` has resolved (a
   * thread may run more than one task at a time, so there can be several).
   */
  scratch: Array<Float32Array | Uint16Array>;
  /** Elements of one input tensor. */
  elements: number;
}

const sessions = new Map<string, Promise<Loaded>>();

/** `Atomics.waitAsync` (in Node since 16; missing from TypeScript's ES2023 lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

function now(): number {
  return performance.timeOrigin + performance.now();
}

function toThreadError(err: unknown): ThreadError {
  if (err instanceof YoloscaleError) {
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return { code: ErrorCode.internal, message };
}

function load(model: ThreadModel): Promise<Loaded> {
  const key = `${model.id}\u0000${model.path}`;
  let p = sessions.get(key);
  if (!p) {
    p = (async () => {
      try {
        const session = await openSession(model.path, {
          device: init.provider,
          ...(init.intraOpNumThreads > 0 ? { intraOpNumThreads: init.intraOpNumThreads } : {}),
        });
        const n = 3 * model.input.size * model.input.size;
        return { session, scratch: [], elements: n };
      } catch (err) {
        throw err instanceof YoloscaleError
          ? err
          : new YoloscaleError(ErrorCode.internal, `model ${model.id} could not be loaded from ${model.path}: ${(err as Error).message.split('\n')[0]}`, {
              cause: err,
            });
      }
    })();
    sessions.set(key, p);
    // A failed load is retried on the next task rather than cached forever.
    p.catch(() => sessions.delete(key));
  }
  return p;
}

/** Marks a reply so its buffers are transferred to the caller, not copied. */
function movable<T>(value: T, buffers: ArrayBuffer[]): T {
  return Piscina.move({ [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value } as never) as T;
}

function dims(model: ThreadModel, batch: number): number[] {
  return [batch, 3, model.input.size, model.input.size];
}

function postModel(model: ThreadModel) {
  return { family: model.family, inputSize: model.input.size, classNames: model.classNames };
}

async function detect(task: DetectTask): Promise<DetectReply> {
  const startedAt = now();
  try {
    const loaded = await load(task.model);
    const buffer = loaded.scratch.pop() ?? (task.model.input.dtype === 'float16' ? new Uint16Array(loaded.elements) : new Float32Array(loaded.elements));
    let prepared: PreparedImage;
    let output: OutputTensor;
    let inferMs: number;
    try {
      prepared = await prepareImage(task.image, task.model.input, buffer);
      const t0 = performance.now();
      output = await loaded.session.run({ data: prepared.data, dims: dims(task.model, 1) });
      inferMs = performance.now() - t0;
    } finally {
      loaded.scratch.push(buffer);
    }
    const [, rows, cols] = output.dims;
    const detections = postprocess(
      postModel(task.model),
      { data: output.data, offset: 0, dims: [rows!, cols!] },
      prepared,
      task.params,
    );
    return {
      ok: true,
      image: { width: prepared.width, height: prepared.height },
      detections,
      startedAt,
      inferMs,
      finishedAt: now(),
    };
  } catch (err) {
    return { ok: false, error: toThreadError(err) };
  }
}

async function prepare(task: PrepareTask): Promise<PrepareReply> {
  const startedAt = now();
  try {
    const p = await prepareImage(task.image, task.model.input);
    const geometry: LetterboxGeometry = { width: p.width, height: p.height, ratio: p.ratio, padX: p.padX, padY: p.padY };
    return movable<PrepareReply>({ ok: true, data: p.data, geometry, startedAt }, [p.data.buffer as ArrayBuffer]);
  } catch (err) {
    return { ok: false, error: toThreadError(err) };
  }
}

async function infer(task: InferTask): Promise<InferReply> {
  try {
    const loaded = await load(task.model);
    const n = task.items.length;
    const t0 = performance.now();
    const output = await loaded.session.run({ data: task.input, dims: dims(task.model, n) });
    const inferMs = performance.now() - t0;
    const [batch, rows, cols] = output.dims;
    if (batch !== n) throw new Error(`the model answered ${batch} images for a batch of ${n}`);
    const per = rows! * cols!;
    const detections = task.items.map((item, i) =>
      postprocess(postModel(task.model), { data: output.data, offset: i * per, dims: [rows!, cols!] }, item.geometry, item.params),
    );
    return { ok: true, detections, inferMs, finishedAt: now() };
  } catch (err) {
    return { ok: false, error: toThreadError(err) };
  }
}

async function raw(task: RawTask): Promise<RawReply> {
  try {
    const loaded = await load(task.model);
    const runMs: number[] = [];
    for (let i = 0; i < task.repeat; i++) {
      const t0 = performance.now();
      await loaded.session.run({ data: task.input, dims: dims(task.model, task.batch) });
      runMs.push(performance.now() - t0);
    }
    return { ok: true, runMs };
  } catch (err) {
    return { ok: false, error: toThreadError(err) };
  }
}

async function loadOnce(task: LoadTask): Promise<LoadReply> {
  let reply: LoadReply;
  try {
    const loaded = await load(task.model);
    reply = { ok: true, provider: loaded.session.provider, inputDims: [...loaded.session.inputDims], threadId };
  } catch (err) {
    reply = { ok: false, error: toThreadError(err) };
  }
  // Barrier: hold this task until every party has arrived, so each thread
  // takes its share of the load tasks. The wait is asynchronous so a thread
  // running several tasks at once can still start its other load tasks.
  const arrived = Atomics.add(task.barrier, 0, 1) + 1;
  if (arrived >= task.parties) {
    Atomics.notify(task.barrier, 0);
  } else {
    const deadline = Date.now() + 60_000;
    let seen = arrived;
    while (seen < task.parties && Date.now() < deadline) {
      const w = waitAsync(task.barrier, 0, seen, Math.max(1, deadline - Date.now()));
      if (w.async) await w.value;
      seen = Atomics.load(task.barrier, 0);
    }
  }
  return reply;
}

/** Handles one task; never throws. */
export default async function handle(task: ThreadTask): Promise<DetectReply | PrepareReply | InferReply | RawReply | LoadReply> {
  switch (task.kind) {
    case 'detect':
      return detect(task);
    case 'prepare':
      return prepare(task);
    case 'infer':
      return infer(task);
    case 'raw':
      return raw(task);
    case 'load':
      return loadOnce(task);
  }
}
