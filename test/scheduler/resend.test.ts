// Images leave the scheduler with their batch (scheduler.ts module comment):
// when the worker running a frame is lost, the scheduler asks the frame's
// gateway for the image again (`resend`), only that gateway may supply it
// (`resent`), a gateway that no longer waits says so (`missing`), and a frame
// whose image never comes back is answered at its deadline. Raw sockets play
// the workers and gateways, so every message is visible.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { DealerSocket } from '../../protocol/index.js';
import type { Message, RegisterMessage, SubmitFrameHeader } from '../../protocol/index.js';
import { Scheduler } from '../../scheduler/index.js';
import { waitFor } from '../helpers/processes.js';

type Seen = { m: Message; images: Buffer[] };

function peer(t: Test, endpoint: string): { socket: DealerSocket; seen: Seen[] } {
  const socket = new DealerSocket();
  const seen: Seen[] = [];
  socket.onMessage((m, images) => void seen.push({ m, images }));
  socket.connect(endpoint);
  t.teardown(() => socket.close());
  return { socket, seen };
}

function worker(t: Test, endpoint: string, nodeId: string) {
  const w = peer(t, endpoint);
  const reg: RegisterMessage = { kind: 'register', nodeId, device: 'cpu', threads: 1, slots: 4, loaded: ['echo'], models: [{ id: 'echo', tokensPerFrame: 1 }], host: 'h', pid: 1, inFlight: 0, draining: false };
  w.socket.send(reg);
  const beat = setInterval(() => w.socket.send({ kind: 'heartbeat', nodeId, inFlight: 0, loaded: ['echo'], draining: false }), 50);
  t.teardown(() => clearInterval(beat));
  return { ...w, stop: () => clearInterval(beat) };
}

const header = (seq: number, budgetMs = 10_000): SubmitFrameHeader => ({ seq, frameId: `f${seq}`, model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard', budgetMs });
const kinds = (seen: Seen[], kind: string) => seen.filter((s) => s.m.kind === kind);

t.test('resend - a lost worker’s frames get their images from their own gateway and run elsewhere', async (t) => {
  const s = new Scheduler({ heartbeatMs: 50, deadAfterMs: 300 });
  t.teardown(() => s.close());
  const ep = await s.start('tcp://127.0.0.1:0', 'tcp://127.0.0.1:0');
  const lost = worker(t, ep.workers, 'lost');
  await waitFor('the first worker registered', () => s.nodes().some((n) => n.id === 'lost' && n.state === 'ready'));
  const gw = peer(t, ep.clients);
  const other = peer(t, ep.clients);
  const images = [randomBytes(5_000), randomBytes(6_000), randomBytes(7_000)];
  gw.socket.send({ kind: 'submit', frames: [header(1), header(2), header(3, 900)] }, images);
  const batch = await waitFor('the batch on the first worker', () => kinds(lost.seen, 'batch')[0]);
  t.same(batch.images, images, 'the worker got the images');
  t.equal(s.queue().inFlight, 3);

  // The worker goes silent: its frames are re-queued and their images asked for.
  lost.stop();
  const resend = await waitFor('resend to the gateway', () => kinds(gw.seen, 'resend')[0], 5_000);
  const asked = resend.m.kind === 'resend' ? resend.m.frames : [];
  t.same(
    asked.map((f) => f.seq),
    [1, 2, 3],
    'every frame of the lost batch, by the gateway’s own seq',
  );
  t.equal(kinds(other.seen, 'resend').length, 0, 'other gateways are not asked');
  t.equal(s.queue().retry, 3, 'waiting for their images count as re-queued');
  const id = (seq: number) => asked.find((f) => f.seq === seq)?.id as number;

  // Another gateway cannot supply (or cancel) someone else's frames.
  other.socket.send({ kind: 'resent', ids: [id(1)], missing: [id(2)] }, [randomBytes(100)]);
  await other.socket.flush();
  const spare = worker(t, ep.workers, 'spare');
  await waitFor('the second worker registered', () => s.nodes().some((n) => n.id === 'spare' && n.state === 'ready'));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(kinds(spare.seen, 'batch').length, 0, 'a foreign resent moved nothing');
  t.equal(s.queue().retry, 3);

  // The frame's own gateway: frame 1's image comes back, frame 2 it no longer waits for, frame 3 it ignores.
  gw.socket.send({ kind: 'resent', ids: [id(1)], missing: [id(2)] }, [images[0]]);
  const second = await waitFor('frame 1 on the second worker', () => kinds(spare.seen, 'batch')[0]);
  t.same(second.images, [images[0]], 'the same image bytes, from the gateway');
  t.same(second.m.kind === 'batch' ? second.m.frames.map((f) => f.id) : [], [id(1)]);
  await waitFor('frame 2 forgotten, frame 3 still waiting', () => s.queue().retry === 1);

  // Frame 3's image never comes: it is answered at its deadline.
  const expired = await waitFor('frame 3 answered', () => kinds(gw.seen, 'reply').flatMap((r) => (r.m.kind === 'reply' ? r.m.outcomes : [])).find((o) => o.seq === 3), 5_000);
  t.match(expired, { seq: 3, error: { code: 'deadline_exceeded' } });
  t.equal(s.queue().retry, 0);
  t.notOk(
    kinds(gw.seen, 'reply').some((r) => r.m.kind === 'reply' && r.m.outcomes.some((o) => o.seq === 2)),
    'frame 2 (given up by its gateway) gets no answer',
  );
});
