import t from 'tap';
import { StreamSession } from '../../gateway/index.js';
import type { FrameOutcome, StreamFrame, StreamSink } from '../../gateway/index.js';

/** A socket stand-in at the protocol level: records what is sent; its buffered amount is set by the test. */
class FakeSink implements StreamSink {
  bufferedAmount = 0;
  sent: Array<Record<string, unknown>> = [];
  closedWith: { code: number; reason: string } | null = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
}

/** A runFrame whose frames finish when the test says so. */
function controlled() {
  const running: Array<{ frame: StreamFrame; finish: (o: FrameOutcome) => void }> = [];
  const refunds: Array<{ frame: number; reason: string }> = [];
  const runFrame = (frame: StreamFrame) =>
    new Promise<FrameOutcome>((resolve) => running.push({ frame, finish: resolve }));
  const detections = (frame: number): FrameOutcome => ({
    kind: 'detections',
    result: { detections: [], tokens: { charged: 1 } },
    refund: async (reason) => {
      refunds.push({ frame, reason });
    },
  });
  return { running, refunds, runFrame, detections };
}

const tick = () => new Promise((r) => setImmediate(r));
const img = new Uint8Array([1, 2, 3]);

t.test('stream-session - at most two frames in the system; a newer frame replaces the queued one; answers stay in order', async (t) => {
  const sink = new FakeSink();
  const c = controlled();
  const s = new StreamSession({ sink, runFrame: c.runFrame });
  s.push(img); // 1 runs
  s.push(img); // 2 queued
  s.push(img); // 3 replaces 2
  s.push(img); // 4 replaces 3
  t.equal(s.inSystem, 2);
  t.equal(c.running.length, 1, 'only one frame runs');
  t.same(sink.sent, [], 'drop notices wait for frame 1');
  c.running[0].finish(c.detections(1));
  await tick();
  t.same(sink.sent.map((m) => [m.type, m.frame, m.reason]), [
    ['detections', 1, undefined],
    ['dropped', 2, 'replaced'],
    ['dropped', 3, 'replaced'],
  ]);
  t.equal(c.running[1].frame.frame, 4, 'the latest frame runs next');
  c.running[1].finish({ kind: 'dropped', reason: 'stale' });
  await tick();
  t.same(sink.sent.at(-1), { type: 'dropped', frame: 4, reason: 'stale' });
  t.same(s.stats, { received: 4, sent: 2, delivered: 1, dropped: 3, errors: 0, undeliverable: 0, maxBufferedAmount: 0 });
});

t.test('stream-session - a frame that waited past its deadline is dropped stale without running', async (t) => {
  let now = 1000;
  const sink = new FakeSink();
  const c = controlled();
  const s = new StreamSession({ sink, runFrame: c.runFrame, staleAfterMs: 1000, now: () => now });
  s.push(img);
  s.push(img);
  now += 1500;
  c.running[0].finish(c.detections(1));
  await tick();
  t.equal(c.running.length, 1, 'the stale frame never ran (never charged)');
  t.same(sink.sent.map((m) => [m.type, m.frame, m.reason]), [['detections', 1, undefined], ['dropped', 2, 'stale']]);
});

t.test('stream-session - a client that does not read: new frames are dropped before charging and finished results are refunded', async (t) => {
  const sink = new FakeSink();
  const c = controlled();
  const s = new StreamSession({ sink, runFrame: c.runFrame, maxBufferedBytes: 1000 });
  s.push(img);
  sink.bufferedAmount = 5000; // the client stopped reading
  c.running[0].finish(c.detections(1));
  await tick();
  t.same(sink.sent, [], 'nothing more is buffered for it');
  t.same(c.refunds, [{ frame: 1, reason: 'undeliverable' }], 'the finished result is refunded');
  for (let i = 0; i < 100; i++) s.push(img);
  await tick();
  t.equal(c.running.length, 1, 'no new frame goes to the backend while the buffer is over the bound');
  t.equal(s.inSystem, 0);
  sink.bufferedAmount = 0;
  s.push(img);
  t.equal(c.running.length, 2, 'frames flow again once the client reads');
  c.running[1].finish(c.detections(102));
  await tick();
  t.same(sink.sent.map((m) => m.frame), [102], 'only the new result is sent');
  t.equal(s.stats.undeliverable, 1);
});

t.test('stream-session - a closing outcome sends its error and closes the socket; results after close are refunded', async (t) => {
  const sink = new FakeSink();
  const c = controlled();
  const s = new StreamSession({ sink, runFrame: c.runFrame });
  s.push(img);
  c.running[0].finish({ kind: 'close', code: 'insufficient_tokens', message: 'no tokens', closeCode: 4029, retryAfterS: 60 });
  await tick();
  t.same(sink.sent, [{ type: 'error', frame: 1, code: 'insufficient_tokens', message: 'no tokens', retryAfterS: 60 }]);
  t.same(sink.closedWith, { code: 4029, reason: 'insufficient_tokens' });
  t.ok(s.closed);

  const sink2 = new FakeSink();
  const c2 = controlled();
  let idle = 0;
  const s2 = new StreamSession({ sink: sink2, runFrame: c2.runFrame, onIdle: () => idle++ });
  s2.push(img);
  s2.push(img);
  s2.close();
  c2.running[0].finish(c2.detections(1));
  await tick();
  t.same(c2.refunds, [{ frame: 1, reason: 'undeliverable' }], 'nobody reads a closed stream: refunded');
  t.equal(c2.running.length, 1, 'the queued frame is forgotten');
  t.equal(idle, 1, 'onIdle once nothing runs');
});

t.test('stream-session - options are validated', async (t) => {
  const sink = new FakeSink();
  const runFrame = async (): Promise<FrameOutcome> => ({ kind: 'dropped', reason: 'stale' });
  t.throws(() => new StreamSession({ sink, runFrame, maxBufferedBytes: -1 }), /options.maxBufferedBytes must be a non-negative integer/);
  t.throws(() => new StreamSession({ sink, runFrame, staleAfterMs: 0 }), /options.staleAfterMs must be a positive number/);
  t.throws(() => new StreamSession({ sink, runFrame, maxPendingMessages: 0 }), /options.maxPendingMessages must be a positive integer/);
});
