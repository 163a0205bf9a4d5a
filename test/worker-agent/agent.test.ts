// The worker node agent in its own process, against a scheduler played by
// the test over a real ZeroMQ ROUTER speaking the protocol.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { FramePipe, PROTOCOL_VERSION, decodeMessage, encodeMessage } from '../../protocol/index.js';
import type { Message, MessageKind, MessageOf } from '../../protocol/index.js';
import { PHOTO } from '../helpers/cluster.js';
import { startWorker, waitFor } from '../helpers/processes.js';
import type { Teardown } from '../helpers/processes.js';

/** The scheduler's side of the worker socket, scripted by the test. */
class FakeScheduler {
  readonly pipe: FramePipe;
  readonly log: Array<{ peer: Buffer; message: Message; at: number }> = [];
  #waiters: Array<() => void> = [];
  endpoint = '';

  constructor() {
    this.pipe = new FramePipe({
      type: 'router',
      onFrames: (frames) => {
        const d = decodeMessage(frames.slice(1));
        if (!d.ok) throw new Error(`agent sent a bad message: ${d.detail}`);
        this.log.push({ peer: frames[0], message: d.message, at: Date.now() });
        for (const w of this.#waiters.splice(0)) w();
      },
    });
  }

  static async start(t: Teardown): Promise<FakeScheduler> {
    const f = new FakeScheduler();
    f.endpoint = await f.pipe.bind('tcp://127.0.0.1:0');
    t.teardown(() => f.pipe.close());
    return f;
  }

  /** Waits for the n-th message of a kind (1-based) and returns it. */
  async next<K extends MessageKind>(kind: K, nth = 1, timeoutMs = 10_000): Promise<{ peer: Buffer; message: MessageOf<K>; at: number }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.log.filter((e) => e.message.kind === kind);
      if (found.length >= nth) return found[nth - 1] as { peer: Buffer; message: MessageOf<K>; at: number };
      if (Date.now() > until) throw new Error(`no ${kind} #${nth} within ${timeoutMs} ms; got ${this.log.map((e) => e.message.kind).join(',')}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  send(peer: Buffer, message: Message, images: Buffer[] = []): void {
    this.pipe.sendFrames([peer, ...encodeMessage(message, images)]);
  }
}

t.test('agent - registers its node, heartbeats every second and answers echo batches per frame', async (t) => {
  const fake = await FakeScheduler.start(t);
  await startWorker(t, fake.endpoint, { nodeId: 'node-7', slots: 12 });
  const { peer, message: reg } = await fake.next('register');
  t.match(reg, { nodeId: 'node-7', device: 'cpu', threads: 1, slots: 12, loaded: ['echo'], inFlight: 0, draining: false });
  t.same(reg.models.map((m) => m.id), ['echo']);
  t.ok(reg.pid > 0 && reg.host.length > 0);
  fake.send(peer, { kind: 'registered', nodeId: 'node-7', heartbeatMs: 300 });
  const h1 = await fake.next('heartbeat');
  const h3 = await fake.next('heartbeat', 3);
  t.match(h1.message, { nodeId: 'node-7', inFlight: 0, draining: false });
  t.ok(h3.at - h1.at >= 400, 'the agent follows the heartbeat period the scheduler sets');

  fake.send(peer, { kind: 'batch', batchId: 5, model: 'echo', frames: [{ id: 10, params: {} }, { id: 11, params: {} }, { id: 12, params: { conf: 0.5 } }] }, [PHOTO, Buffer.from('garbage'), PHOTO]);
  const { message: res } = await fake.next('result');
  t.equal(res.batchId, 5);
  t.same(res.outcomes.map((o) => o.id), [10, 11, 12], 'one outcome per frame, in order');
  t.match(res.outcomes[0], { result: { model: 'echo', image: { width: 768, height: 576 }, detections: [] } });
  t.match(res.outcomes[1], { error: { code: 'bad_image' } }, 'a bad frame fails alone');
  t.match(res.outcomes[2], { result: { model: 'echo' } });

  fake.send(peer, { kind: 'batch', batchId: 6, model: 'yolox-nano', frames: [{ id: 13, params: {} }] }, [PHOTO]);
  t.match((await fake.next('result', 2)).message.outcomes[0], { id: 13, error: { code: 'unknown_model' } }, 'a model the node does not offer is a per-frame error');
});

t.test('agent - malformed and wrong-version messages are dropped and the agent keeps serving', async (t) => {
  const fake = await FakeScheduler.start(t);
  const w = await startWorker(t, fake.endpoint, { nodeId: 'tough' });
  const { peer } = await fake.next('register');
  fake.pipe.sendFrames([peer, randomBytes(50)]);
  fake.pipe.sendFrames([peer, Buffer.from(PROTOCOL_VERSION), randomBytes(80)]);
  fake.pipe.sendFrames([peer, Buffer.from('YS07'), encodeMessage({ kind: 'retire', nodeId: 'tough' })[1]]);
  fake.pipe.sendFrames([peer, ...encodeMessage({ kind: 'batch', batchId: 1, model: 'echo', frames: [{ id: 1, params: {} }] })]);
  fake.send(peer, { kind: 'ping' });
  fake.send(peer, { kind: 'batch', batchId: 2, model: 'echo', frames: [{ id: 2, params: {} }] }, [PHOTO]);
  const { message } = await fake.next('result');
  t.equal(message.batchId, 2, 'only the valid batch was answered');
  t.equal(w.child.exitCode, null, 'the retire in a foreign version was not obeyed');
  await fake.next('heartbeat', 2);
  t.match(w.stderr(), /protocol version YS07 refused, this peer speaks YS02/);
  // Counted by reason and reported once with the next heartbeat (SPEC §13: dropped and counted).
  await waitFor('the drop report', () => /dropped malformed or foreign messages/.test(w.stderr()));
  const report = w.stderr().split('\n').find((l) => l.includes('dropped malformed or foreign messages')) ?? '';
  t.same((JSON.parse(report) as { dropped: unknown }).dropped, { short: 1, malformed: 1, version: 1, frames: 1, unexpected: 1 }, 'every dropped message counted');
});

t.test('agent - registers again when a restarted scheduler does not know it', async (t) => {
  const fake = await FakeScheduler.start(t);
  await startWorker(t, fake.endpoint, { nodeId: 'again' });
  const { peer } = await fake.next('register');
  fake.send(peer, { kind: 'reregister' });
  const second = await fake.next('register', 2);
  t.equal(second.message.nodeId, 'again');
});

t.test('agent - SIGTERM drains: tells the scheduler, finishes in-flight frames, says drained, exits 0', async (t) => {
  const fake = await FakeScheduler.start(t);
  const w = await startWorker(t, fake.endpoint, { nodeId: 'drainer', echoDelayMs: 2_500 });
  const { peer } = await fake.next('register');
  fake.send(peer, { kind: 'batch', batchId: 9, model: 'echo', frames: [{ id: 1, params: {} }, { id: 2, params: {} }] }, [PHOTO, PHOTO]);
  t.equal((await fake.next('heartbeat')).message.inFlight, 2, 'the batch is in flight');
  w.kill('SIGTERM');
  const drain = await fake.next('drain');
  const result = await fake.next('result');
  const drained = await fake.next('drained');
  t.equal(result.message.outcomes.length, 2, 'the in-flight batch finished');
  t.ok(drain.at <= result.at && result.at <= drained.at, 'drain, then the result, then drained');
  t.same(await w.exited, { code: 0, signal: null });
});

t.test('agent - a drain from the scheduler is answered drained; retire stops the process', async (t) => {
  const fake = await FakeScheduler.start(t);
  const w = await startWorker(t, fake.endpoint, { nodeId: 'told' });
  const { peer } = await fake.next('register');
  fake.send(peer, { kind: 'drain', nodeId: 'told' });
  await fake.next('drained');
  t.equal(fake.log.filter((e) => e.message.kind === 'drain').length, 0, 'a requested drain is not echoed back as a self-drain');
  const hb = await fake.next('heartbeat');
  t.equal(hb.message.draining, true);
  fake.send(peer, { kind: 'retire', nodeId: 'told' });
  t.same(await w.exited, { code: 0, signal: null });
});
