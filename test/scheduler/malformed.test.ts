// Malformed, foreign and wrong-version messages sent to a real scheduler
// process on both of its ROUTERs: dropped, counted, logged, and the
// scheduler keeps serving.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { DealerSocket, PROTOCOL_VERSION, encodeMessage } from '../../protocol/index.js';
import type { RegisterMessage } from '../../protocol/index.js';
import { PHOTO, client, nodes, submit } from '../helpers/cluster.js';
import { admin, startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('malformed - bad frames on both sockets are dropped and counted; the scheduler keeps serving', async (t) => {
  const s = await startScheduler(t);
  await startWorker(t, s.workerEndpoint, { nodeId: 'good' });
  const c = await client(t, s);
  t.equal((await submit(c)).model, 'echo');

  const packr = new Packr({ useRecords: false });
  const version = Buffer.from(PROTOCOL_VERSION);
  const register: RegisterMessage = { kind: 'register', nodeId: 'evil', device: 'cpu', threads: 1, slots: 4, loaded: [], models: [{ id: 'echo', tokensPerFrame: 1 }], host: 'x', pid: 1, inFlight: 0, draining: false };
  const bad: Buffer[][] = [
    [randomBytes(100)],
    [randomBytes(4), randomBytes(300)],
    [version, randomBytes(64)],
    [version, packr.pack({ kind: 'register', nodeId: 42 })],
    [Buffer.from('YS99'), packr.pack(register)],
    [...encodeMessage(register), PHOTO],
    [version],
  ];
  const toWorkers = new DealerSocket();
  const toClients = new DealerSocket();
  t.teardown(() => Promise.all([toWorkers.close(), toClients.close()]));
  toWorkers.connect(s.workerEndpoint);
  toClients.connect(s.clientEndpoint);
  for (const frames of bad) toWorkers.sendFrames(frames);
  for (const frames of bad) toClients.sendFrames(frames);
  // A submit without its image frame, and one with two.
  const one = { seq: 1, frameId: 'x', model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard' as const, budgetMs: 1000 };
  toClients.sendFrames(encodeMessage({ kind: 'submit', frames: [one] }));
  toClients.sendFrames(encodeMessage({ kind: 'submit', frames: [one] }, [PHOTO, PHOTO]));
  await Promise.all([toWorkers.flush(), toClients.flush()]);

  const dropped = (metrics: string, socket: string, reason: string) => Number(new RegExp(`yoloscale_messages_dropped_total\\{socket="${socket}",reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  const metrics = await waitFor('all drops counted', async () => {
    const m = String((await admin(s.adminUrl, 'GET', '/metrics', null)).body);
    return dropped(m, 'clients', 'frames') === 3 && dropped(m, 'workers', 'version') === 1 ? m : null;
  });
  for (const socket of ['workers', 'clients']) {
    t.equal(dropped(metrics, socket, 'foreign'), 1, `${socket}: foreign frames counted`);
    t.equal(dropped(metrics, socket, 'malformed'), 2, `${socket}: malformed headers counted`);
    t.equal(dropped(metrics, socket, 'version'), 1, `${socket}: version mismatch counted`);
    t.equal(dropped(metrics, socket, 'short'), 2, `${socket}: short messages counted`);
  }
  t.equal(dropped(metrics, 'workers', 'frames'), 1);
  t.match(s.stderr(), /protocol version YS99 refused, this peer speaks YS02/, 'the version mismatch is refused with a clear log line');
  t.same((await nodes(s)).map((n) => n.id), ['good'], 'no bad registration was accepted');
  const after = await Promise.all(Array.from({ length: 20 }, () => submit(c)));
  t.equal(after.length, 20, 'the scheduler keeps serving');
  t.equal(s.child.exitCode, null, 'and is still running');
});
