import t from 'tap';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openLedger } from '../../ledger/index.js';
import { image } from '../helpers/env.js';
import { startRedis } from '../helpers/redis.js';
import { EngineBackend, gatewayApp, listen, netCharged, sharedEngine } from './helpers.js';
import { connect } from './ws-client.js';

const bus = readFileSync(image('bus.jpg'));

t.test('gateway ledger outage - 503 ledger_unavailable, nothing served free or charged, automatic recovery (Redis)', async (t) => {
  const engine = await sharedEngine(t);
  const backend = new EngineBackend(engine);
  const redis = await startRedis(t);
  const ledger = await openLedger({ redisUrl: redis.url, dataDir: tmpdir() });
  t.teardown(() => ledger.close());
  const tenant = await ledger.createTenant({ name: 'redis-tenant', plan: 'starter' });
  const { key } = await ledger.createApiKey(tenant.id);
  const { app } = await gatewayApp(t, backend, ledger);
  const ws = (await listen(app)).replace('http', 'ws');
  const detect = () => app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });

  t.equal((await detect()).statusCode, 200, 'served while Redis is up');
  const stream = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
  stream.ws.send(bus);
  await stream.until((m) => m.length >= 1);
  t.equal(stream.messages[0].type, 'detections');

  await redis.kill();
  const submittedBefore = backend.submitted.length;
  for (let i = 0; i < 3; i++) {
    const res = await detect();
    t.equal(res.statusCode, 503, `request ${i + 1} during the outage: 503`);
    t.equal(res.json().error.code, 'ledger_unavailable');
    t.ok(Number(res.headers['retry-after']) >= 1, 'with Retry-After');
  }
  const usage = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-auth-token': key } });
  t.equal(usage.statusCode, 503, 'usage is unavailable too');
  stream.ws.send(bus);
  await stream.until((m) => m.length >= 2);
  t.match(stream.messages[1], { type: 'error', frame: 2, code: 'ledger_unavailable' }, 'a stream frame gets an error, the stream stays open');
  t.equal(backend.submitted.length, submittedBefore, 'nothing was served free');

  await redis.restart();
  let res = await detect();
  for (let i = 0; i < 50 && res.statusCode !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    res = await detect();
  }
  t.equal(res.statusCode, 200, 'service resumes when Redis is back');
  stream.ws.send(bus);
  await stream.until((m) => m.length >= 3);
  t.equal(stream.messages[2].type, 'detections', 'the open stream resumes too');
  stream.ws.close();
  // A debit cut off by the outage may have run in Redis; the ledger refunds such uncertain debits once it is back.
  let net = await netCharged(ledger, tenant.id);
  for (let i = 0; i < 30 && net.net !== 4; i++) {
    await new Promise((r) => setTimeout(r, 100));
    net = await netCharged(ledger, tenant.id);
  }
  t.equal(net.net, 4, `exactly the four served frames (2 REST, 2 stream) are charged (${JSON.stringify(net)})`);
});
