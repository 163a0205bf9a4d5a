// The one codec: every message kind round-trips; anything else is refused
// with a reason and never throws.
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { DropReason, MessageKind, PROTOCOL_VERSION, decodeMessage, encodeMessage } from '../../protocol/index.js';
import type { Message } from '../../protocol/index.js';

const result = {
  model: 'yolox-nano',
  image: { width: 640, height: 480 },
  detections: [{ class: 'dog', classId: 16, score: 0.9, box: { x1: 1, y1: 2, x2: 30.5, y2: 40 } }],
  timing: { queueMs: 1, inferMs: 9.5, totalMs: 12 },
};
const img = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

const samples: Array<[Message, Buffer[]]> = [
  [{ kind: 'register', nodeId: 'n1', device: 'cpu', threads: 2, slots: 8, loaded: ['echo'], models: [{ id: 'echo', tokensPerFrame: 1 }, { id: 'yolox-nano', tokensPerFrame: 1, inputSize: 416, family: 'yolox', classNames: ['person'] }], host: 'h', pid: 42, inFlight: 0, draining: false }, []],
  [{ kind: 'registered', nodeId: 'n1', heartbeatMs: 1000 }, []],
  [{ kind: 'heartbeat', nodeId: 'n1', inFlight: 3, loaded: ['echo'], draining: true }, []],
  [{ kind: 'reregister' }, []],
  [{ kind: 'batch', batchId: 7, model: 'echo', frames: [{ id: 1, params: { conf: 0.3, classes: ['dog', 2] } }, { id: 2, params: {} }] }, [img, img]],
  [{ kind: 'result', batchId: 7, outcomes: [{ id: 1, result }, { id: 2, error: { code: 'bad_image', message: 'truncated' } }] }, []],
  [{ kind: 'drain', nodeId: 'n1' }, []],
  [{ kind: 'drained', nodeId: 'n1' }, []],
  [{ kind: 'retire', nodeId: 'n1' }, []],
  [
    {
      kind: 'submit',
      frames: [
        { seq: 9, frameId: 'f9', model: 'echo', params: { iou: 0.5 }, tenant: 'acme', weight: 3600, cost: 1, lane: 'realtime', budgetMs: 1000 },
        { seq: 10, frameId: 'f10', model: 'yolox-nano', params: {}, tenant: 'beta', weight: 108000, cost: 2, lane: 'best-effort', budgetMs: 10000 },
      ],
    },
    [img, img],
  ],
  [{ kind: 'reply', outcomes: [{ seq: 9, result }, { seq: 10, error: { code: 'overloaded', message: 'full', retryAfterS: 1 } }] }, []],
  [{ kind: 'ping' }, []],
  [{ kind: 'status', readyNodes: 2, models: [{ id: 'echo', tokensPerFrame: 1 }] }, []],
  [{ kind: 'resend', frames: [{ id: 31, seq: 9 }, { id: 32, seq: 10 }] }, []],
  [{ kind: 'resent', ids: [31], missing: [32] }, [img]],
];

t.test('codec - every message kind round-trips with its image frames', async (t) => {
  t.equal(new Set(samples.map(([m]) => m.kind)).size, Object.keys(MessageKind).length, 'one sample per kind');
  for (const [message, images] of samples) {
    const frames = encodeMessage(message, images);
    t.equal(frames[0].toString(), PROTOCOL_VERSION, `${message.kind}: version frame first`);
    t.equal(frames.length, 2 + images.length, `${message.kind}: images travel as their own frames`);
    const decoded = decodeMessage(frames);
    if (!decoded.ok) {
      t.fail(`${message.kind} refused: ${decoded.detail}`);
      continue;
    }
    t.same(decoded.message, message, `${message.kind} round-trips`);
    t.same(decoded.images, images);
  }
});

t.test('codec - image bytes never go inside the msgpack header', async (t) => {
  const big = Buffer.alloc(50_000, 7);
  const frames = encodeMessage({ kind: 'submit', frames: [{ seq: 1, frameId: 'x', model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard', budgetMs: 10 }] }, [big]);
  t.ok(frames[1].length < 200, 'header stays small');
  t.equal(frames[2], big, 'the image buffer is sent as is');
});

t.test('codec - a foreign, short or wrong-version message is refused with its reason', async (t) => {
  const header = new Packr({ useRecords: false }).pack({ kind: 'ping' });
  const cases: Array<[Buffer[], DropReason]> = [
    [[], DropReason.short],
    [[Buffer.from(PROTOCOL_VERSION)], DropReason.short],
    [[Buffer.from('GET / HTTP/1.1'), header], DropReason.foreign],
    [[Buffer.from('YS03'), header], DropReason.version],
    [[Buffer.from('YS00'), header], DropReason.version],
    [[Buffer.from(PROTOCOL_VERSION), Buffer.from([0xc1])], DropReason.malformed],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack({ kind: 'submit', frames: [{ seq: 'one' }] })], DropReason.malformed],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack({ kind: 'launch-missiles' })], DropReason.malformed],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack([1, 2, 3])], DropReason.malformed],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack({ kind: 'submit', frames: [{ seq: 1, frameId: 'f', model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'vip', budgetMs: 5 }] }), img], DropReason.malformed],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack({ kind: 'reply', outcomes: [{ seq: 1, error: { code: 'made_up', message: 'x' } }] })], DropReason.malformed],
    [encodeMessage({ kind: 'submit', frames: [{ seq: 1, frameId: 'f', model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard', budgetMs: 5 }] }), DropReason.frames],
    [encodeMessage({ kind: 'batch', batchId: 1, model: 'echo', frames: [{ id: 1, params: {} }, { id: 2, params: {} }] }, [img]), DropReason.frames],
    [[...encodeMessage({ kind: 'ping' }), img], DropReason.frames],
    [encodeMessage({ kind: 'resent', ids: [1, 2], missing: [] }, [img]), DropReason.frames],
    [[Buffer.from(PROTOCOL_VERSION), new Packr().pack({ kind: 'resend', frames: [{ id: -1, seq: 1 }] })], DropReason.malformed],
  ];
  for (const [frames, reason] of cases) {
    const d = decodeMessage(frames);
    t.equal(d.ok, false);
    if (!d.ok) t.equal(d.reason, reason, d.detail);
  }
  const v = decodeMessage([Buffer.from('YS03'), header]);
  t.match(v, { ok: false, peerVersion: 'YS03', detail: /YS03.*YS02/ }, 'version refusals name both versions');
});

t.test('codec - random frames never throw and are never accepted as a message they are not', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 4 }), (arrays) => {
      const d = decodeMessage(arrays.map((a) => Buffer.from(a)));
      if (d.ok) throw new Error('random bytes decoded as a message');
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (bytes) => {
      const d = decodeMessage([Buffer.from(PROTOCOL_VERSION), Buffer.from(bytes)]);
      if (d.ok && !Object.values(MessageKind).includes(d.message.kind)) throw new Error('unknown kind accepted');
    }),
    { numRuns: 2000 },
  );
  t.pass('4,000 random inputs refused without throwing');
});
