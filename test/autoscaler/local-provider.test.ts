import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { LocalProvider } from '../../scheduler/autoscaler/index.js';
import { alive, until } from '../helpers/wait.js';

/** A stand-in worker: records its id and pid, drains on SIGTERM (or ignores it), or dies at once. */
const WORKER = `
const fs = require('node:fs');
const dir = process.argv[2];
const mode = process.argv[3] ?? 'good';
const id = process.env.YOLOSCALE_NODE_ID;
fs.writeFileSync(dir + '/' + id + '.pid.tmp', String(process.pid) + ' ' + process.env.YOLOSCALE_NODE_TYPE);
fs.renameSync(dir + '/' + id + '.pid.tmp', dir + '/' + id + '.pid');
if (mode === 'crash') process.exit(3);
process.on('SIGTERM', () => {
  if (mode === 'stubborn') return;
  fs.writeFileSync(dir + '/' + id + '.drained', 'yes');
  process.exit(0);
});
setInterval(() => {}, 1000);
`;


async function setup(t: Test, types?: Record<string, { args?: string[] }>, stopTimeoutMs = 5000) {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-local-'));
  const script = join(dir, 'worker.cjs');
  await writeFile(script, WORKER);
  const provider = new LocalProvider({ command: [process.execPath, script, dir], types, stopTimeoutMs, leadTimeS: 2 });
  t.teardown(async () => {
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  const pidOf = async (id: string): Promise<number> => Number((await readFile(join(dir, `${id}.pid`), 'utf8')).split(' ')[0]);
  return { dir, provider, pidOf };
}

t.test('local provider - launches worker processes under their node id, idempotent per request id', async (t) => {
  const { dir, provider, pidOf } = await setup(t, { small: {}, big: {} });
  const ids = await provider.launch('small', 2, 'req-1');
  t.equal(ids.length, 2);
  t.same(await provider.launch('small', 2, 'req-1'), ids, 'same request id: same ids');
  await until(() => ids.every((id) => existsSync(join(dir, `${id}.pid`))));
  const info = await readFile(join(dir, `${ids[0]}.pid`), 'utf8');
  t.match(info, / small$/, 'YOLOSCALE_NODE_TYPE passed');
  const list = await provider.list();
  t.equal(list.length, 2, 'the repeated request started nothing new');
  t.ok(list.every((i) => i.status === 'running' && i.requestId === 'req-1' && i.type === 'small'));
  const pids = await Promise.all(ids.map(pidOf));
  t.ok(pids.every(alive));

  await provider.terminate([ids[0]], 'term-1');
  t.notOk(alive(pids[0]), 'terminated worker exited');
  t.ok(existsSync(join(dir, `${ids[0]}.drained`)), 'it got SIGTERM and drained');
  t.ok(alive(pids[1]), 'the other keeps running');
  await provider.terminate([ids[0]], 'term-1');
  t.equal((await provider.list()).find((i) => i.id === ids[0])?.status, 'terminated');
  t.same(provider.pollErrors(), []);
});

t.test('local provider - a worker that dies is reported as an error, not left running', async (t) => {
  const { provider } = await setup(t, { local: { args: ['crash'] } });
  const [id] = await provider.launch('local', 1, 'r');
  await until(async () => (await provider.list())[0].status === 'failed');
  const errors = provider.pollErrors();
  t.equal(errors.length, 1);
  t.match(errors[0], { requestId: 'r', op: 'launch', code: 'worker_exited', id });
  t.same(provider.pollErrors(), [], 'each error is returned once');
  await provider.terminate([id], 'cleanup');
  t.equal((await provider.list())[0].status, 'terminated');
});

t.test('local provider - a worker ignoring SIGTERM is killed after the stop timeout', async (t) => {
  const { provider, pidOf, dir } = await setup(t, { local: { args: ['stubborn'] } }, 300);
  const [id] = await provider.launch('local', 1, 'r');
  await until(() => existsSync(join(dir, `${id}.pid`)));
  const pid = await pidOf(id);
  await provider.terminate([id], 'stop');
  t.notOk(alive(pid), 'SIGKILL followed');
});

t.test('local provider - bad requests and spawn failures come back as errors', async (t) => {
  const p = new LocalProvider({ command: ['/nonexistent/yoloscale-worker'] });
  t.teardown(() => p.close());
  const [id] = await p.launch('local', 1, 'a');
  await until(async () => (await p.list())[0].status === 'failed');
  t.match(p.pollErrors(), [{ code: 'spawn_failed', id }]);
  t.same(await p.launch('gpu', 1, 'b'), []);
  t.same(await p.launch('local', 0, 'c'), []);
  const errs = p.pollErrors();
  t.match(errs, [{ code: 'bad_request', requestId: 'b' }, { code: 'bad_request', requestId: 'c' }]);
  t.match(errs[0].message, /unknown node type "gpu"/);
  await p.terminate(['nope'], 'd');
  t.match(p.pollErrors(), [{ code: 'not_found', op: 'terminate' }]);
  t.throws(() => new LocalProvider({ command: [] }), /options\.command must be a non-empty array/);
});

t.test('local provider - passes the node id as a flag too when asked (yoloscale worker --node-id)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-local-'));
  const script = join(dir, 'argv.cjs');
  await writeFile(script, "require('node:fs').writeFileSync(process.argv[2] + '/argv.json', JSON.stringify(process.argv.slice(3))); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));");
  const p = new LocalProvider({ command: [process.execPath, script, dir], nodeIdFlag: '--node-id' });
  t.teardown(async () => {
    await p.close();
    await rm(dir, { recursive: true, force: true });
  });
  t.same(p.types, ['local']);
  const [id] = await p.launch('local', 1, 'r');
  await until(() => existsSync(join(dir, 'argv.json')));
  t.same(JSON.parse(await readFile(join(dir, 'argv.json'), 'utf8')), ['--node-id', id]);
});
