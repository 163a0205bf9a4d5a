import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { buildApp, createGatewayLogger } from '../../gateway/index.js';
import { AuthFailureLimiter, TicketStore, extractKey, secretsEqual } from '../../gateway/auth.js';
import { image } from '../helpers/env.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, listen, sharedEngine } from './helpers.js';
import { connect } from './ws-client.js';

const bus = readFileSync(image('bus.jpg'));

t.test('auth - keys from X-Auth-Token or Authorization: Bearer; secrets compared by digest', async (t) => {
  t.equal(extractKey({ 'x-auth-token': 'ys_a' }), 'ys_a');
  t.equal(extractKey({ authorization: 'Bearer ys_b' }), 'ys_b');
  t.equal(extractKey({ authorization: 'bearer  ys_c ' }), 'ys_c');
  t.equal(extractKey({ authorization: 'Basic eXM6eXM=' }), undefined);
  t.equal(extractKey({}), undefined);
  t.ok(secretsEqual('same', 'same'));
  t.notOk(secretsEqual('same', 'samf'));
  t.notOk(secretsEqual('short', 'a much longer secret'), 'different lengths compare without throwing');
});

t.test('tickets - single use, expire after their lifetime', async (t) => {
  let now = 0;
  const store = new TicketStore<string>({ ttlMs: 60_000, now: () => now });
  const a = store.issue('tenant-a');
  t.equal(a.expiresAt, 60_000);
  t.match(a.ticket, /^[A-Za-z0-9_-]{32}$/, 'a random 192-bit ticket');
  t.equal(store.redeem(a.ticket), 'tenant-a');
  t.equal(store.redeem(a.ticket), undefined, 'second use refused');
  const b = store.issue('tenant-b');
  now = 60_001;
  t.equal(store.redeem(b.ticket), undefined, 'expired');
  t.equal(store.redeem('made-up'), undefined);
  t.throws(() => new TicketStore({ ttlMs: 0 }), /options.ttlMs must be a positive number/);
});

t.test('auth failure limiter - blocks an address after N failures until the window ends', async (t) => {
  let now = 0;
  const l = new AuthFailureLimiter({ maxFailures: 2, windowMs: 10_000, now: () => now });
  l.fail('1.1.1.1');
  t.equal(l.blockedForS('1.1.1.1'), 0);
  l.fail('1.1.1.1');
  t.equal(l.blockedForS('1.1.1.1'), 10);
  t.equal(l.blockedForS('2.2.2.2'), 0, 'other addresses unaffected');
  now = 10_000;
  t.equal(l.blockedForS('1.1.1.1'), 0, 'window over');
  t.throws(() => new AuthFailureLimiter({ maxFailures: 0 }), /options.maxFailures must be a positive integer/);
});

t.test('gateway options are validated', async (t) => {
  const registry = new Registry();
  const { ledger } = await ledgerWithTenant(t);
  const backend = { submit: () => Promise.reject(new Error('unused')), ready: () => ({ scheduler: false, workers: 0 }), models: () => [] };
  await t.rejects(buildApp({ backend, ledger, registry, limits: { maxStreamsPerTenant: 0 } }), /options.limits.maxStreamsPerTenant must be a positive integer/);
  await t.rejects(buildApp({ backend, ledger, registry, limits: { bogus: 1 } as never }), /options.limits.bogus is not a known limit/);
  await t.rejects(buildApp({ backend, ledger } as never), /options.registry is required/);
});

t.test('gateway hardening', async (t) => {
  const engine = await sharedEngine(t);
  const backend = new EngineBackend(engine);

  t.test('keys and tickets never reach the logs', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    let logged = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logged += String(chunk);
        cb();
      },
    });
    const registry = new Registry();
    const app = await buildApp({ backend, ledger, registry, logger: createGatewayLogger('debug', sink) });
    t.teardown(() => app.close());
    const ws = (await listen(app)).replace('http', 'ws');
    await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });
    await app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization: `Bearer ${key}` } });
    await app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization: 'Bearer ys_not_a_real_key_123' } });
    const ticket = (await app.inject({ method: 'POST', url: '/v1/stream-tickets', headers: { 'x-auth-token': key } })).json().ticket as string;
    const c = await connect(`${ws}/v1/stream?ticket=${ticket}`);
    c.ws.send(bus);
    await c.until((m) => m.length > 0);
    c.ws.close();
    await c.closed;
    await new Promise((r) => setTimeout(r, 100));
    t.ok(logged.split('\n').length > 4, 'requests were logged');
    t.notOk(logged.includes(key), 'the API key is not in the logs');
    t.notOk(logged.includes('ys_not_a_real_key_123'), 'a wrong key is not in the logs');
    t.notOk(logged.includes(ticket), 'the stream ticket is not in the logs');
  });

  t.test('a slow client that never finishes its body is cut off', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger, { requestTimeoutMs: 1500 });
    const base = new URL(await listen(app));
    const sock = tcpConnect(Number(base.port), base.hostname);
    t.teardown(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    sock.write(`POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nX-Auth-Token: ${key}\r\nContent-Length: 100000\r\n\r\n`);
    sock.write(bus.subarray(0, 1000));
    const started = Date.now();
    let answer = '';
    sock.on('data', (d) => (answer += String(d)));
    await new Promise((r) => sock.once('close', r));
    const waited = Date.now() - started;
    t.ok(waited < 10_000, `connection closed after ${waited} ms`);
    t.match(answer, /^(HTTP\/1\.1 408|$)/, 'with 408 Request Timeout (or a plain close)');
    const ok = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });
    t.equal(ok.statusCode, 200, 'others are served');
  });

  t.test('models say what the caller’s plan allows when a key is sent', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t, { models: ['yolov10n'] });
    const { app } = await gatewayApp(t, backend, ledger);
    const anon = (await app.inject({ method: 'GET', url: '/v1/models' })).json();
    t.equal(anon.models[0].allowed, undefined);
    const mine = await app.inject({ method: 'GET', url: '/v1/models', headers: { 'x-auth-token': key } });
    t.equal(mine.json().models[0].allowed, false, 'yolox-nano is not in this plan');
    t.ok(mine.headers['x-tokens-remaining'], 'token headers on an authenticated answer');
    t.equal((await app.inject({ method: 'GET', url: '/v1/models', headers: { 'x-auth-token': 'ys_wrong' } })).statusCode, 401);
  });
});
