// A foreign ZeroMQ peer sends random multipart messages, other protocol
// versions and mutated headers to both ROUTERs of a real scheduler process:
// each is dropped and counted under the reason the codec gives, odd but
// well-formed frames each get an answer, and the cluster keeps serving.
import t from 'tap';
import fc from 'fast-check';
import { DealerSocket, decodeMessage, encodeMessage } from '../../protocol/index.js';
import type { Message, SubmitFrameHeader } from '../../protocol/index.js';
import { PHOTO, client, nodes, submit } from '../helpers/cluster.js';
import { admin, startScheduler, startWorker, waitFor } from '../helpers/processes.js';
import { anyHeader, foreignFrames, mutatedMessage, otherVersion } from './arbitraries.js';

function dropped(metrics: string, socket: string, reason: string): number {
  return Number(new RegExp(`yoloscale_messages_dropped_total\\{socket="${socket}",reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
}

t.test('fuzz zmq', async (t) => {
  const s = await startScheduler(t, { maxDelayMs: 2 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'good' });
  const c = await client(t, s);
  t.equal((await submit(c)).model, 'echo');

  t.test('random frames on both ROUTERs are dropped and counted by reason; the cluster keeps serving', async (t) => {
    // Only messages the codec refuses: valid ones (a register, say) would really act on the cluster.
    const refused = fc.oneof(foreignFrames, anyHeader, mutatedMessage.map((m) => m.frames), otherVersion.map((m) => m.frames)).filter((frames) => frames.length > 0 && !decodeMessage(frames).ok);
    const batch = fc.sample(refused, { numRuns: 1500, seed: 20261129 });
    const expected = new Map<string, number>();
    for (const frames of batch) {
      const d = decodeMessage(frames);
      if (!d.ok) expected.set(d.reason, (expected.get(d.reason) ?? 0) + 1);
    }
    const toWorkers = new DealerSocket();
    const toClients = new DealerSocket();
    t.teardown(() => Promise.all([toWorkers.close(), toClients.close()]));
    toWorkers.connect(s.workerEndpoint);
    toClients.connect(s.clientEndpoint);
    for (const frames of batch) {
      toWorkers.sendFrames(frames);
      toClients.sendFrames(frames);
    }
    await Promise.all([toWorkers.flush(), toClients.flush()]);
    const total = batch.length;
    const metrics = await waitFor(
      'every refusal counted',
      async () => {
        const m = String((await admin(s.adminUrl, 'GET', '/metrics', null)).body);
        const sum = (socket: string) => [...expected.keys()].reduce((n, r) => n + dropped(m, socket, r), 0);
        return sum('workers') >= total && sum('clients') >= total ? m : null;
      },
      30_000,
    );
    for (const socket of ['workers', 'clients']) {
      for (const [reason, n] of expected) t.equal(dropped(metrics, socket, reason), n, `${socket}: ${n} dropped as ${reason}`);
    }
    t.same((await nodes(s)).map((n) => n.id), ['good'], 'no foreign node registered');
    const after = await Promise.all(Array.from({ length: 20 }, () => submit(c)));
    t.equal(after.length, 20, 'the cluster keeps serving');
    t.equal(s.child.exitCode, null, 'the scheduler is still running');
  });

  t.test('well-formed submits with odd numbers, models and images each get one answer', async (t) => {
    const header = fc.record({
      frameId: fc.string({ maxLength: 8 }),
      model: fc.constantFrom('echo', 'echo', 'nope', ''),
      params: fc.constant({}),
      tenant: fc.string({ maxLength: 300 }),
      weight: fc.constantFrom(Number.MIN_VALUE, 1e-300, -5, 0, 1, 3600, 1e308),
      cost: fc.constantFrom(-1, 0, 1, 1e300),
      lane: fc.constantFrom('realtime' as const, 'standard' as const, 'best-effort' as const),
      budgetMs: fc.constantFrom(-1, 0, 0.5, 5_000, 1e308),
    });
    const image = fc.oneof(fc.constant(PHOTO), fc.constant(Buffer.alloc(0)), fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b)));
    const submits = fc.sample(fc.array(fc.tuple(header, image), { minLength: 1, maxLength: 8 }), { numRuns: 150, seed: 7 });

    const peer = new DealerSocket();
    t.teardown(() => peer.close());
    const answered = new Map<number, string>();
    peer.onMessage((m: Message) => {
      if (m.kind !== 'reply') return;
      for (const o of m.outcomes) answered.set(o.seq, o.result ? 'ok' : (o.error?.code ?? '?'));
    });
    peer.connect(s.clientEndpoint);
    let seq = 0;
    for (const frames of submits) {
      const headers: SubmitFrameHeader[] = frames.map(([h]) => ({ ...h, seq: ++seq }));
      peer.sendFrames(encodeMessage({ kind: 'submit', frames: headers }, frames.map(([, img]) => img)));
    }
    await peer.flush();
    await waitFor('one answer per frame', () => answered.size === seq, 30_000);
    const codes = new Map<string, number>();
    for (const v of answered.values()) codes.set(v, (codes.get(v) ?? 0) + 1);
    t.ok((codes.get('ok') ?? 0) > 0, `answers: ${JSON.stringify(Object.fromEntries(codes))}`);
    t.ok([...codes.keys()].every((k) => ['ok', 'deadline_exceeded', 'unknown_model', 'bad_image', 'overloaded'].includes(k)), 'each a result or a typed refusal');
    const after = await Promise.all(Array.from({ length: 10 }, () => submit(c)));
    t.equal(after.length, 10, 'the cluster keeps serving');
    t.equal(s.child.exitCode, null, 'the scheduler is still running');
  });
});
