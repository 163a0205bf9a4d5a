/**
 * fast-check generators shared by the fuzz tests: valid cluster messages of
 * every kind, mutations of them, and foreign frames.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { ErrorCode, PROTOCOL_VERSION, encodeMessage, imageCount } from '../../protocol/index.js';
import type { Lane, Message } from '../../protocol/index.js';

/** A plain msgpack encoder (not the product's codec), for hand-made headers. */
export const rawPackr = new Packr({ useRecords: false });

/** The version frame of this protocol. */
export const VERSION = Buffer.from(PROTOCOL_VERSION, 'ascii');

const name = fc.string({ maxLength: 24 });
const count = fc.nat({ max: 1_000_000 });
const real = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
const lane = fc.constantFrom<Lane>('realtime', 'standard', 'best-effort');
const code = fc.constantFrom(...Object.values(ErrorCode));
const params = fc.record(
  { conf: fc.double({ min: 0, max: 1, noNaN: true }), iou: fc.double({ min: 0, max: 1, noNaN: true }), maxDet: fc.integer({ min: 1, max: 300 }), classes: fc.array(fc.oneof(name, fc.nat({ max: 79 })), { maxLength: 3 }) },
  { requiredKeys: [] },
);
const modelInfo = fc.record({ id: name, tokensPerFrame: fc.integer({ min: 1, max: 4 }) });
const result = fc.record({
  model: name,
  image: fc.record({ width: count, height: count }),
  detections: fc.array(fc.record({ class: name, classId: fc.nat({ max: 79 }), score: real, box: fc.record({ x1: real, y1: real, x2: real, y2: real }) }), { maxLength: 3 }),
  timing: fc.record({ queueMs: real, inferMs: real, totalMs: real }),
});
const nodeId = fc.string({ minLength: 1, maxLength: 16 });

/** A valid message of any kind, with as many image frames as it needs. */
export const validMessage: fc.Arbitrary<{ message: Message; images: Buffer[] }> = fc
  .oneof(
    fc.record({ kind: fc.constant('register' as const), nodeId, device: fc.constantFrom('cpu', 'cuda'), threads: fc.integer({ min: 1, max: 64 }), slots: fc.integer({ min: 1, max: 4096 }), loaded: fc.array(name, { maxLength: 3 }), models: fc.array(modelInfo, { maxLength: 3 }), host: name, pid: count, inFlight: count, draining: fc.boolean() }),
    fc.record({ kind: fc.constant('registered' as const), nodeId, heartbeatMs: fc.integer({ min: 1, max: 10_000 }) }),
    fc.record({ kind: fc.constant('heartbeat' as const), nodeId, inFlight: count, loaded: fc.array(name, { maxLength: 3 }), draining: fc.boolean() }),
    fc.record({ kind: fc.constantFrom('reregister' as const, 'ping' as const) }),
    fc.record({ kind: fc.constant('batch' as const), batchId: count, model: name, frames: fc.array(fc.record({ id: count, params }), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('result' as const), batchId: count, outcomes: fc.array(fc.oneof(fc.record({ id: count, result }), fc.record({ id: count, error: fc.record({ code, message: name }) })), { maxLength: 3 }) }),
    fc.record({ kind: fc.constantFrom('drain' as const, 'drained' as const, 'retire' as const), nodeId }),
    fc.record({
      kind: fc.constant('submit' as const),
      frames: fc.array(fc.record({ seq: count, frameId: name, model: name, params, tenant: name, weight: fc.integer({ min: 1, max: 2_160_000 }), cost: fc.integer({ min: 0, max: 40 }), lane, budgetMs: fc.integer({ min: 1, max: 10_000 }) }), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant('reply' as const), outcomes: fc.array(fc.oneof(fc.record({ seq: count, result }), fc.record({ seq: count, error: fc.record({ code, message: name }) })), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('status' as const), readyNodes: count, models: fc.array(modelInfo, { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('resend' as const), frames: fc.array(fc.record({ id: count, seq: count }), { maxLength: 4 }) }),
    fc.record({ kind: fc.constant('resent' as const), ids: fc.array(count, { maxLength: 4 }), missing: fc.array(count, { maxLength: 4 }) }),
  )
  .chain((message) => {
    const n = imageCount(message as Message);
    return fc.array(fc.uint8Array({ minLength: 1, maxLength: 32 }), { minLength: n, maxLength: n }).map((images) => ({ message: message as Message, images: images.map((b) => Buffer.from(b)) }));
  });

/** Every property path of a plain value (objects and arrays), e.g. `['frames', 0, 'weight']`. */
export function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [];
  const out: Array<Array<string | number>> = [];
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [k, v] of entries) {
    out.push([...prefix, k]);
    out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** A deep copy of `value` with the property at `path` replaced (or deleted when `replacement` is `DELETE`). */
export function mutate(value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (replacement === DELETE) delete node[last];
  else node[last] = replacement;
  return copy;
}

/** Marker for {@link mutate}: delete the property. */
export const DELETE = Symbol('delete');

/** A valid message with one field replaced by anything (or deleted), as raw frames `[version, header, ...images]`. */
export const mutatedMessage: fc.Arbitrary<{ frames: Buffer[]; path: Array<string | number> }> = validMessage.chain(({ message, images }) => {
  const all = paths(message);
  return fc.record({
    path: fc.constantFrom(...all),
    replacement: fc.oneof(fc.constant<unknown>(DELETE), fc.anything({ maxDepth: 2 }), fc.double(), fc.string(), fc.constant(null), fc.constant(-1), fc.constant(2 ** 60)),
  }).map(({ path, replacement }) => ({ frames: [VERSION, rawPackr.pack(mutate(message, path, replacement)), ...images], path }));
});

/** Any msgpack value (objects with arbitrary keys, arrays, binary, numbers) as a header after the right version. */
export const anyHeader: fc.Arbitrary<Buffer[]> = fc
  .tuple(fc.anything({ maxDepth: 3, withObjectString: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBigInt: false }), fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 2 }))
  .map(([value, images]) => [VERSION, rawPackr.pack(value), ...images.map((b) => Buffer.from(b))]);

/** Random multipart frames: sometimes starting with the right version, sometimes another, mostly garbage. */
export const foreignFrames: fc.Arbitrary<Buffer[]> = fc
  .tuple(
    fc.oneof(fc.constant(VERSION), fc.constant(Buffer.from('YS03')), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b))),
    fc.array(fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)), { maxLength: 4 }),
  )
  .map(([first, rest]) => [first, ...rest]);

/** A valid message sent under another yoloscale protocol version (`YSnn` other than ours). */
export const otherVersion: fc.Arbitrary<{ frames: Buffer[]; version: string }> = fc
  .tuple(validMessage, fc.integer({ min: 0, max: 99 }).filter((v) => v !== Number(PROTOCOL_VERSION.slice(2))))
  .map(([{ message, images }, v]) => {
    const version = `YS${String(v).padStart(2, '0')}`;
    const frames = encodeMessage(message, images);
    return { frames: [Buffer.from(version, 'ascii'), ...frames.slice(1)], version };
  });
