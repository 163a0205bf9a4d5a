/**
 * The one msgpackr codec of the cluster protocol. Encodes a {@link Message}
 * and its image frames into ZeroMQ frames, and decodes received frames,
 * checking the version and every field's shape at the boundary: anything
 * else is refused with a reason, never thrown into the caller.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { DetectionResult, Detection, DetectParams, Lane } from './detection.js';
import { ErrorCode } from './errors.js';
import { MessageKind, PROTOCOL_VERSION, imageCount } from './messages.js';
import type { BatchFrame, FrameOutcome, Message, ModelInfo, ReplyOutcome, SubmitError, SubmitFrameHeader } from './messages.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const VERSION_FRAME = Buffer.from(PROTOCOL_VERSION, 'ascii');
const VERSION_LIKE = /^YS\d\d$/;

/** Why received frames were refused. */
export const DropReason = Object.freeze({
  /** Fewer frames than `[version, header]`. */
  short: 'short',
  /** First frame is not a yoloscale version at all. */
  foreign: 'foreign',
  /** A yoloscale peer speaking another protocol version. */
  version: 'version',
  /** Header is not msgpack or fails the shape check. */
  malformed: 'malformed',
  /** Image frame count does not match the header. */
  frames: 'frames',
} as const);

/** Union of the reasons above. */
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** A decoded message with its image frames. */
export interface Decoded {
  ok: true;
  message: Message;
  images: Buffer[];
}

/** Frames that were refused, and why. */
export interface Refused {
  ok: false;
  reason: DropReason;
  /** Human-readable detail for the log line (never includes payload bytes). */
  detail: string;
  /** The peer's version where it sent one that looked like a version. */
  peerVersion?: string;
}

/** Encodes a message and its images as ZeroMQ frames `[version, header, ...images]`. */
export function encodeMessage(message: Message, images: readonly Uint8Array[] = []): Buffer[] {
  const frames: Buffer[] = [VERSION_FRAME, packr.pack(message)];
  for (const image of images) frames.push(Buffer.isBuffer(image) ? image : Buffer.from(image.buffer, image.byteOffset, image.byteLength));
  return frames;
}

/**
 * Decodes frames `[version, header, ...images]` (identity frame already
 * removed). Never throws: malformed, foreign or wrong-version input comes
 * back as {@link Refused}.
 */
export function decodeMessage(frames: readonly Buffer[]): Decoded | Refused {
  if (frames.length < 2) return refuse(DropReason.short, `expected at least 2 frames, got ${frames.length}`);
  const version = frames[0];
  if (!version.equals(VERSION_FRAME)) {
    const text = version.length === 4 ? version.toString('latin1') : '';
    if (VERSION_LIKE.test(text)) {
      return { ok: false, reason: DropReason.version, detail: `protocol version ${text} refused, this peer speaks ${PROTOCOL_VERSION}`, peerVersion: text };
    }
    return refuse(DropReason.foreign, `first frame is not a yoloscale protocol version (${version.length} bytes)`);
  }
  let raw: unknown;
  try {
    raw = unpackr.unpack(frames[1]);
  } catch (err) {
    return refuse(DropReason.malformed, `header is not msgpack: ${(err as Error).message}`);
  }
  let message: Message;
  try {
    message = validateMessage(raw);
  } catch (err) {
    if (err instanceof ShapeError) return refuse(DropReason.malformed, err.message);
    return refuse(DropReason.malformed, `header check failed: ${(err as Error).message}`);
  }
  const images = frames.slice(2);
  const expected = imageCount(message);
  if (images.length !== expected) return refuse(DropReason.frames, `${message.kind} needs ${expected} image frame(s), got ${images.length}`);
  return { ok: true, message, images };
}

function refuse(reason: DropReason, detail: string): Refused {
  return { ok: false, reason, detail };
}

class ShapeError extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ShapeError(`${path} must be ${what}`);
}

function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v) || v instanceof Uint8Array) fail(path, 'an object');
  return v as Obj;
}

function str(v: unknown, path: string, max = 256): string {
  if (typeof v !== 'string' || v.length > max) fail(path, `a string of at most ${max} characters`);
  return v as string;
}

function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number');
  return v as number;
}

function int(v: unknown, path: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(path, `an integer ≥ ${min}`);
  return v as number;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'a boolean');
  return v as boolean;
}

function arr(v: unknown, path: string, max = 100_000): unknown[] {
  if (!Array.isArray(v) || v.length > max) fail(path, `an array of at most ${max} items`);
  return v as unknown[];
}

const LANES: ReadonlySet<string> = new Set<Lane>(['realtime', 'standard', 'best-effort']);
const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

function lane(v: unknown, path: string): Lane {
  if (typeof v !== 'string' || !LANES.has(v)) fail(path, 'one of realtime, standard, best-effort');
  return v as Lane;
}

function code(v: unknown, path: string): ErrorCode {
  if (typeof v !== 'string' || !CODES.has(v)) fail(path, 'a known error code');
  return v as ErrorCode;
}

function params(v: unknown, path: string): DetectParams {
  const o = obj(v, path);
  const out: DetectParams = {};
  if (o.conf !== undefined && o.conf !== null) out.conf = num(o.conf, `${path}.conf`);
  if (o.iou !== undefined && o.iou !== null) out.iou = num(o.iou, `${path}.iou`);
  if (o.maxDet !== undefined && o.maxDet !== null) out.maxDet = num(o.maxDet, `${path}.maxDet`);
  if (o.agnostic !== undefined && o.agnostic !== null) out.agnostic = bool(o.agnostic, `${path}.agnostic`);
  if (o.classes !== undefined && o.classes !== null) {
    out.classes = arr(o.classes, `${path}.classes`, 1000).map((c, i) => (typeof c === 'number' ? num(c, `${path}.classes[${i}]`) : str(c, `${path}.classes[${i}]`)));
  }
  return out;
}

function detection(v: unknown, path: string): Detection {
  const o = obj(v, path);
  const b = obj(o.box, `${path}.box`);
  return {
    class: str(o.class, `${path}.class`),
    classId: int(o.classId, `${path}.classId`),
    score: num(o.score, `${path}.score`),
    box: { x1: num(b.x1, `${path}.box.x1`), y1: num(b.y1, `${path}.box.y1`), x2: num(b.x2, `${path}.box.x2`), y2: num(b.y2, `${path}.box.y2`) },
  };
}

function result(v: unknown, path: string): DetectionResult {
  const o = obj(v, path);
  const image = obj(o.image, `${path}.image`);
  const timing = obj(o.timing, `${path}.timing`);
  return {
    model: str(o.model, `${path}.model`),
    image: { width: int(image.width, `${path}.image.width`), height: int(image.height, `${path}.image.height`) },
    detections: arr(o.detections, `${path}.detections`, 10_000).map((d, i) => detection(d, `${path}.detections[${i}]`)),
    timing: { queueMs: num(timing.queueMs, `${path}.timing.queueMs`), inferMs: num(timing.inferMs, `${path}.timing.inferMs`), totalMs: num(timing.totalMs, `${path}.timing.totalMs`) },
  };
}

function modelInfo(v: unknown, path: string): ModelInfo {
  const o = obj(v, path);
  const out: ModelInfo = { id: str(o.id, `${path}.id`), tokensPerFrame: num(o.tokensPerFrame, `${path}.tokensPerFrame`) };
  if (o.inputSize !== undefined && o.inputSize !== null) out.inputSize = int(o.inputSize, `${path}.inputSize`);
  if (o.family !== undefined && o.family !== null) out.family = str(o.family, `${path}.family`);
  if (o.description !== undefined && o.description !== null) out.description = str(o.description, `${path}.description`, 1000);
  if (o.classNames !== undefined && o.classNames !== null) out.classNames = arr(o.classNames, `${path}.classNames`, 10_000).map((c, i) => str(c, `${path}.classNames[${i}]`));
  return out;
}

function strings(v: unknown, path: string): string[] {
  return arr(v, path, 1000).map((s, i) => str(s, `${path}[${i}]`));
}

function ints(v: unknown, path: string): number[] {
  return arr(v, path, 10_000).map((x, i) => int(x, `${path}[${i}]`));
}

function batchFrame(v: unknown, path: string): BatchFrame {
  const o = obj(v, path);
  return { id: int(o.id, `${path}.id`), params: params(o.params, `${path}.params`) };
}

function outcome(v: unknown, path: string): FrameOutcome {
  const o = obj(v, path);
  const id = int(o.id, `${path}.id`);
  if (o.error !== undefined && o.error !== null) {
    const e = obj(o.error, `${path}.error`);
    return { id, error: { code: code(e.code, `${path}.error.code`), message: str(e.message, `${path}.error.message`, 2000) } };
  }
  return { id, result: result(o.result, `${path}.result`) };
}

function submitFrame(v: unknown, path: string): SubmitFrameHeader {
  const o = obj(v, path);
  return {
    seq: int(o.seq, `${path}.seq`),
    frameId: str(o.frameId, `${path}.frameId`),
    model: str(o.model, `${path}.model`),
    params: params(o.params, `${path}.params`),
    tenant: str(o.tenant, `${path}.tenant`),
    weight: num(o.weight, `${path}.weight`),
    cost: num(o.cost, `${path}.cost`),
    lane: lane(o.lane, `${path}.lane`),
    budgetMs: num(o.budgetMs, `${path}.budgetMs`),
  };
}

function replyOutcome(v: unknown, path: string): ReplyOutcome {
  const o = obj(v, path);
  const seq = int(o.seq, `${path}.seq`);
  if (o.error !== undefined && o.error !== null) {
    const e = obj(o.error, `${path}.error`);
    const error: SubmitError = { code: code(e.code, `${path}.error.code`), message: str(e.message, `${path}.error.message`, 2000) };
    if (e.retryAfterS !== undefined && e.retryAfterS !== null) error.retryAfterS = num(e.retryAfterS, `${path}.error.retryAfterS`);
    return { seq, error };
  }
  return { seq, result: result(o.result, `${path}.result`) };
}

/**
 * Checks the shape of a decoded header and returns a fresh, typed copy
 * holding only the known fields. Throws a shape error naming the first bad
 * field.
 */
function validateMessage(raw: unknown): Message {
  const o = obj(raw, 'message');
  const kind = o.kind;
  switch (kind) {
    case MessageKind.register:
      return {
        kind,
        nodeId: str(o.nodeId, 'nodeId', 128),
        device: str(o.device, 'device', 64),
        threads: int(o.threads, 'threads', 1),
        slots: int(o.slots, 'slots', 1),
        loaded: strings(o.loaded, 'loaded'),
        models: arr(o.models, 'models', 1000).map((m, i) => modelInfo(m, `models[${i}]`)),
        host: str(o.host, 'host'),
        pid: int(o.pid, 'pid'),
        inFlight: int(o.inFlight, 'inFlight'),
        draining: bool(o.draining, 'draining'),
      };
    case MessageKind.registered:
      return { kind, nodeId: str(o.nodeId, 'nodeId', 128), heartbeatMs: int(o.heartbeatMs, 'heartbeatMs', 1) };
    case MessageKind.heartbeat:
      return { kind, nodeId: str(o.nodeId, 'nodeId', 128), inFlight: int(o.inFlight, 'inFlight'), loaded: strings(o.loaded, 'loaded'), draining: bool(o.draining, 'draining') };
    case MessageKind.reregister:
    case MessageKind.ping:
      return { kind };
    case MessageKind.batch:
      return {
        kind,
        batchId: int(o.batchId, 'batchId'),
        model: str(o.model, 'model'),
        frames: arr(o.frames, 'frames', 10_000).map((f, i) => batchFrame(f, `frames[${i}]`)),
      };
    case MessageKind.result:
      return { kind, batchId: int(o.batchId, 'batchId'), outcomes: arr(o.outcomes, 'outcomes', 10_000).map((x, i) => outcome(x, `outcomes[${i}]`)) };
    case MessageKind.drain:
    case MessageKind.drained:
    case MessageKind.retire:
      return { kind, nodeId: str(o.nodeId, 'nodeId', 128) };
    case MessageKind.submit:
      return { kind, frames: arr(o.frames, 'frames', 10_000).map((f, i) => submitFrame(f, `frames[${i}]`)) };
    case MessageKind.reply:
      return { kind, outcomes: arr(o.outcomes, 'outcomes', 10_000).map((x, i) => replyOutcome(x, `outcomes[${i}]`)) };
    case MessageKind.resend:
      return {
        kind,
        frames: arr(o.frames, 'frames', 10_000).map((f, i) => {
          const x = obj(f, `frames[${i}]`);
          return { id: int(x.id, `frames[${i}].id`), seq: int(x.seq, `frames[${i}].seq`) };
        }),
      };
    case MessageKind.resent:
      return { kind, ids: ints(o.ids, 'ids'), missing: ints(o.missing, 'missing') };
    case MessageKind.status:
      return { kind, readyNodes: int(o.readyNodes, 'readyNodes'), models: arr(o.models, 'models', 1000).map((m, i) => modelInfo(m, `models[${i}]`)) };
    default:
      return fail('message.kind', 'a known message kind');
  }
}
