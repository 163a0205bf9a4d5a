// Secrets in a real cluster: `yoloscale up` (scheduler, gateway and an echo
// worker as processes) over a real Redis ledger, logging at debug level.
// Keys, tickets and the admin token are used in every way a client may use
// them; afterwards none of them is in any process's log file, the raw keys
// are in no Redis value nor in Redis's append-only file, admin routes refused
// tenant keys, and repeated auth failures were rate-limited on both APIs.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { Redis } from 'ioredis';
import { hashApiKey } from '../../ledger/index.js';
import { image } from '../helpers/env.js';
import { startRedis } from '../helpers/redis.js';
import { startUp } from '../helpers/up.js';
import { connect } from '../gateway/ws-client.js';

/** Every file under `dir`, recursively, concatenated. */
function readTree(dir: string): Buffer {
  const out: Buffer[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(statSync(p).isDirectory() ? readTree(p) : readFileSync(p));
  }
  return Buffer.concat(out);
}

t.test('security - secrets stay out of logs, URLs and the store; admin refuses tenant keys; failures are rate-limited', async (t) => {
  t.setTimeout(240_000);
  const redis = await startRedis(t);
  const up = await startUp(t, ['--echo', '--workers', '1'], { YOLOSCALE_REDIS_URL: redis.url, YOLOSCALE_LOG_LEVEL: 'debug' });
  t.equal(up.info.ready, true, 'the cluster serves');
  const gw = `http://127.0.0.1:${up.port}`;
  const adminUrl = `http://127.0.0.1:${up.adminPort}`;
  const adminToken = up.info.adminToken;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${adminUrl}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const tenantA = String((await admin('POST', '/v1/tenants', { name: 'alpha', plan: 'starter' })).body.id);
  const tenantB = String((await admin('POST', '/v1/tenants', { name: 'beta', plan: 'starter' })).body.id);
  const keyA = String((await admin('POST', `/v1/tenants/${tenantA}/keys`, {})).body.key);
  const keyB = String((await admin('POST', `/v1/tenants/${tenantB}/keys`, {})).body.key);
  t.match(keyA, /^ys_/);
  const wrongKey = `ys_${randomBytes(32).toString('base64url')}`;
  const frame = await sharp(readFileSync(image('bus.jpg'))).resize(96).jpeg().toBuffer();

  // Use the keys every way a client may.
  const detect = (headers: Record<string, string>) => fetch(`${gw}/v1/detect?model=echo`, { method: 'POST', headers: { 'content-type': 'image/jpeg', ...headers }, body: frame });
  t.equal((await detect({ 'x-auth-token': keyA })).status, 200);
  t.equal((await detect({ authorization: `Bearer ${keyB}` })).status, 200);
  t.equal((await fetch(`${gw}/v1/usage`, { headers: { 'x-auth-token': keyA } })).status, 200);
  const ticket = String(((await (await fetch(`${gw}/v1/stream-tickets`, { method: 'POST', headers: { 'x-auth-token': keyA } })).json()) as { ticket: string }).ticket);
  const viaTicket = await connect(`${gw.replace('http', 'ws')}/v1/stream?ticket=${ticket}&model=echo`);
  viaTicket.ws.send(frame);
  await viaTicket.until((m) => m.some((x) => x.type === 'detections'), 20_000);
  viaTicket.ws.close();
  const viaHeader = await connect(`${gw.replace('http', 'ws')}/v1/stream?model=echo`, { authorization: `Bearer ${keyB}` });
  viaHeader.ws.send(frame);
  await viaHeader.until((m) => m.some((x) => x.type === 'detections'), 20_000);
  viaHeader.ws.close();
  t.ok(viaTicket.messages.some((m) => m.type === 'detections') && viaHeader.messages.some((m) => m.type === 'detections'), 'streams by ticket and by key header served');
  t.equal((await detect({ 'x-auth-token': wrongKey })).status, 401, 'a wrong key is refused');
  t.equal((await detect({ authorization: `Bearer ${adminToken}` })).status, 401, 'the admin token is no tenant key');

  // Redis: no raw key in any value or in the append-only file; the hashes are there.
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  const dump: string[] = [];
  for (const k of await raw.keys('*')) {
    const type = await raw.type(k);
    dump.push(k);
    if (type === 'string') dump.push(String(await raw.get(k)));
    else if (type === 'hash') dump.push(JSON.stringify(await raw.hgetall(k)));
    else if (type === 'list') dump.push(JSON.stringify(await raw.lrange(k, '0', '-1')));
    else if (type === 'zset') dump.push(JSON.stringify(await raw.zrange(k, '0', '-1')));
    else if (type === 'set') dump.push(JSON.stringify(await raw.smembers(k)));
  }
  const store = dump.join('\n');
  const aof = readTree(redis.dir);
  t.ok(store.includes(hashApiKey(keyA)), 'the key hash is in Redis');
  for (const [name, key] of [['A', keyA], ['B', keyB], ['demo', String(up.info.demoKey)]] as const) {
    t.notOk(store.includes(key) || store.includes(key.slice(3)), `key ${name} is in no Redis value`);
    t.notOk(aof.includes(Buffer.from(key.slice(3))), `key ${name} is not in the append-only file`);
  }

  // Admin routes refuse tenant keys and missing or wrong tokens, then rate-limit this address.
  const routes: Array<[string, string]> = [
    ['GET', '/v1/nodes'], ['GET', '/v1/nodes/x'], ['POST', '/v1/nodes/x/cordon'], ['POST', '/v1/nodes/provision'], ['GET', '/v1/pool'], ['PUT', '/v1/pool'], ['GET', '/v1/pool/forecast'],
    ['GET', '/v1/tenants'], ['POST', '/v1/tenants'], ['GET', `/v1/tenants/${tenantA}`], ['POST', `/v1/tenants/${tenantA}/keys`], ['POST', `/v1/tenants/${tenantA}/topup`], ['PUT', `/v1/tenants/${tenantA}/plan`],
    ['GET', `/v1/tenants/${tenantA}/usage`], ['GET', '/v1/plans'], ['PUT', '/v1/plans/free'], ['GET', '/v1/queue'],
  ];
  const credentials: Array<Record<string, string>> = [{}, { authorization: `Bearer ${keyA}` }, { 'x-auth-token': keyA }, { authorization: `Bearer ${wrongKey}` }, { authorization: adminToken }, { authorization: `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}` }];
  const statuses = new Map<number, number>();
  for (const [method, path] of routes) {
    for (const headers of credentials) {
      const res = await fetch(`${adminUrl}${path}`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{"count":1,"type":"cpu","tokens":1000000,"plan":"enterprise","name":"x","tokensPerHour":1,"min":0,"max":9}' });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await res.text();
    }
  }
  t.same([...statuses.keys()].sort(), [401, 429], `every attempt refused: ${JSON.stringify(Object.fromEntries(statuses))}`);
  const blocked = await fetch(`${adminUrl}/v1/nodes`, { headers: { authorization: `Bearer ${adminToken}` } });
  t.equal(blocked.status, 429, 'after repeated failures even the admin token waits');
  t.ok(Number(blocked.headers.get('retry-after')) > 0, 'with Retry-After');
  t.equal((await admin('GET', `/v1/tenants/${tenantA}`).catch(() => ({ status: 0 }))).status, 429);

  // The gateway likewise: 20 failures per minute, then 429 even for a good key.
  let gatewayBlocked = 0;
  for (let i = 0; i < 25; i++) if ((await fetch(`${gw}/v1/usage`, { headers: { 'x-auth-token': `${wrongKey}${i}` } })).status === 429) gatewayBlocked++;
  t.ok(gatewayBlocked >= 3, `${gatewayBlocked} of 25 wrong keys answered 429`);
  t.equal((await fetch(`${gw}/v1/usage`, { headers: { 'x-auth-token': keyA } })).status, 429, 'a good key from a blocked address waits too');

  // Logs of every process (debug level), written while all of the above happened.
  await new Promise((r) => setTimeout(r, 500));
  const logs = readTree(join(up.dataDir, 'logs')).toString('utf8');
  t.ok(logs.split('\n').length > 20, `${logs.split('\n').length} log lines from ${readdirSync(join(up.dataDir, 'logs')).join(', ')}`);
  t.match(logs, /"path":"\/v1\/detect"/, 'requests were logged');
  for (const [name, secret] of [['key A', keyA], ['key B', keyB], ['demo key', String(up.info.demoKey)], ['wrong key', wrongKey], ['ticket', ticket], ['admin token', adminToken]] as const) {
    t.notOk(logs.includes(secret), `${name} is in no log`);
  }
});
