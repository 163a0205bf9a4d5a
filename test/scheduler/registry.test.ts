// Registry states (SPEC §6), liveness and placement, without sockets.
import t from 'tap';
import { isYoloscaleError } from '../../protocol/index.js';
import type { RegisterMessage } from '../../protocol/index.js';
import { LaneQueues, NodeState, Registry, place } from '../../scheduler/index.js';

function reg(nodeId: string, over: Partial<RegisterMessage> = {}): RegisterMessage {
  return { kind: 'register', nodeId, device: 'cpu', threads: 2, slots: 4, loaded: [], models: [{ id: 'a', tokensPerFrame: 1 }, { id: 'b', tokensPerFrame: 2 }], host: 'h', pid: 1, inFlight: 0, draining: false, ...over };
}
const peer = (s: string) => Buffer.from(s);

t.test('registry - a registering agent becomes ready and is found by its connection', async (t) => {
  const r = new Registry();
  const n = r.register(peer('p1'), reg('n1'), 0, 1000);
  t.equal(n.state, NodeState.ready);
  t.equal(r.byPeer(peer('p1')), n);
  t.equal(r.counts().ready, 1);
});

t.test('registry - provisioning → booting → ready for nodes the autoscaler launches', async (t) => {
  const r = new Registry();
  r.expect('n1', 'cpu-small', 0);
  t.equal(r.get('n1')?.state, NodeState.provisioning);
  r.booting('n1', 1);
  t.equal(r.get('n1')?.state, NodeState.booting);
  r.register(peer('p'), reg('n1'), 2, 2);
  t.equal(r.get('n1')?.state, NodeState.ready);
  t.equal(r.get('n1')?.type, 'cpu-small');
});

t.test('registry - a node silent past the timeout fails and loses its slot accounting', async (t) => {
  const r = new Registry();
  const n = r.register(peer('p1'), reg('n1'), 0, 0);
  r.register(peer('p2'), reg('n2'), 0, 0);
  n.inFlight = 3;
  r.touch(r.get('n2')!, 2500);
  t.same(r.expire(3000, 3000, 0), [], 'exactly at the limit is still alive');
  const dead = r.expire(3001, 3000, 0);
  t.same(dead.map((d) => d.id), ['n1']);
  t.equal(n.state, NodeState.failed);
  t.equal(n.inFlight, 0);
  t.equal(r.byPeer(peer('p1')), undefined);
  t.equal(r.get('n2')?.state, NodeState.ready);
});

t.test('registry - admin transitions follow ready ⇄ cordoned → draining → retired', async (t) => {
  const r = new Registry();
  const n = r.register(peer('p1'), reg('n1'), 0, 0);
  r.apply('n1', 'cordon', 0);
  t.equal(n.state, NodeState.cordoned);
  r.apply('n1', 'uncordon', 0);
  t.equal(n.state, NodeState.ready);
  n.inFlight = 2;
  t.equal(r.apply('n1', 'retire', 0), false, 'retire waits for in-flight work');
  t.equal(n.state, NodeState.draining);
  const err = (() => {
    try {
      r.apply('n1', 'uncordon', 0);
    } catch (e) {
      return e;
    }
  })();
  t.ok(isYoloscaleError(err, 'conflict'), 'a draining node cannot be uncordoned');
  n.inFlight = 0;
  t.equal(r.settle(n, 0), true);
  t.equal(n.state, NodeState.retired);
  t.throws(() => r.apply('nope', 'cordon', 0), { code: 'not_found' });
});

t.test('registry - an admin drain keeps the node draining once idle; a self-drain retires it', async (t) => {
  const r = new Registry();
  const a = r.register(peer('p1'), reg('a'), 0, 0);
  const b = r.register(peer('p2'), reg('b'), 0, 0);
  r.apply('a', 'drain', 0);
  t.equal(r.settle(a, 0), false);
  t.equal(a.state, NodeState.draining);
  r.selfDrain(b, 0);
  t.equal(r.settle(b, 0), true);
  t.equal(b.state, NodeState.retired);
});

t.test('placement - prefers nodes with the model loaded, then the least in flight', async (t) => {
  const r = new Registry();
  const n1 = r.register(peer('1'), reg('n1'), 0, 0);
  const n2 = r.register(peer('2'), reg('n2', { loaded: ['a'] }), 0, 0);
  const n3 = r.register(peer('3'), reg('n3'), 0, 0);
  n2.inFlight = 3;
  t.equal(place(r.list(), 'a', 4)?.node, n2, 'loaded wins over less loaded');
  t.equal(place(r.list(), 'a', 4)?.take, 1, 'takes only its free slots');
  n2.inFlight = 4;
  n1.inFlight = 2;
  t.equal(place(r.list(), 'a', 4)?.node, n3, 'then the least in flight');
  t.equal(place(r.list(), 'zzz', 1), null, 'nobody offers an unknown model');
});

t.test('placement - never on cordoned, draining, failed or full nodes', async (t) => {
  const r = new Registry();
  const n1 = r.register(peer('1'), reg('n1'), 0, 0);
  r.register(peer('2'), reg('n2'), 0, 0);
  r.register(peer('3'), reg('n3'), 0, 0);
  r.register(peer('4'), reg('n4'), 0, 0);
  r.apply('n2', 'cordon', 0);
  r.apply('n3', 'drain', 0);
  r.expire(10_000, 3000, 0);
  t.equal(place(r.list(), 'a', 1), null, 'all failed after silence');
  r.register(peer('1'), reg('n1'), 10_000, 0);
  r.register(peer('4'), reg('n4'), 10_000, 0);
  r.apply('n4', 'cordon', 0);
  t.equal(place(r.list(), 'a', 1)?.node, n1);
  n1.inFlight = n1.slots;
  t.equal(place(r.list(), 'a', 1), null, 'a full node is never overrun');
});

t.test('lanes - realtime before standard before best-effort, bounded per tenant', async (t) => {
  const q = new LaneQueues<string>({ perTenantLimit: 2 });
  t.ok(q.push('best-effort', 't', 1, 1, 'be'));
  t.ok(q.push('standard', 't', 1, 1, 's1'));
  t.ok(q.push('realtime', 't', 1, 1, 'r1'));
  t.ok(q.push('standard', 't', 1, 1, 's2'));
  t.notOk(q.push('standard', 't', 1, 1, 's3'), 'third frame of one tenant in one lane refused');
  t.ok(q.push('standard', 'u', 1, 1, 'u1'), 'another tenant still fits');
  t.equal(q.depth('standard'), 3);
  const order = [];
  for (let x = q.pop(); x; x = q.pop()) order.push(x);
  t.equal(order[0], 'r1');
  t.equal(order.at(-1), 'be');
  t.same(order.slice(1, 4).sort(), ['s1', 's2', 'u1']);
  t.equal(q.size, 0);
});
