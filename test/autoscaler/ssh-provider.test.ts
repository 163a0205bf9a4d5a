import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { running, until } from '../helpers/wait.js';
import { SshProvider, loadInventory, parseInventory } from '../../scheduler/autoscaler/index.js';
import { freePort, sshdUnavailable, startSilentListener, startSshd } from './helpers/sshd.js';

const skip = sshdUnavailable();

t.test('ssh provider - starts and stops workers on inventory hosts through a real sshd', { skip }, async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.close());
  const provider = new SshProvider({ hosts: [sshd.host('node-a'), sshd.host('node-b'), sshd.host('gpu-1', { type: 'gpu' })], retryDelayMs: 100 });
  t.teardown(() => provider.close());

  const ids = await provider.launch('cpu', 2, 'launch-1');
  t.same(ids.sort(), ['node-a', 'node-b'], 'two cpu hosts claimed; the gpu host is another type');
  t.same(await provider.launch('cpu', 2, 'launch-1'), ids, 'same request id: nothing new');
  await until(async () => (await provider.list()).every((i) => i.status === 'running'), 20_000);
  const pidFile = (id: string) => join(sshd.dir, `${id}.pid`);
  const pids = ids.map((id) => Number(readFileSync(pidFile(id), 'utf8')));
  t.ok(pids.every(running), 'the remote worker processes run');

  t.same(await provider.launch('cpu', 1, 'launch-2'), [], 'no free cpu host left');
  t.match(provider.pollErrors(), [{ requestId: 'launch-2', code: 'no_host', op: 'launch' }]);

  await provider.terminate(['node-a'], 'term-1');
  t.notOk(running(pids[ids.indexOf('node-a')]), 'stopped over ssh');
  t.notOk(existsSync(pidFile('node-a')));
  t.equal((await provider.list()).find((i) => i.id === 'node-a')?.status, 'terminated');
  await provider.terminate(['node-a'], 'term-1'); // idempotent: the stop command would fail a second time
  t.same(provider.pollErrors(), [], 'a repeated terminate does nothing');

  const again = await provider.launch('cpu', 1, 'launch-3');
  t.same(again, ['node-a'], 'a terminated host is free again');
  await until(async () => (await provider.list()).find((i) => i.id === 'node-a')?.status === 'running', 20_000);
  await provider.terminate(['node-a', 'node-b'], 'term-2');
  t.ok((await provider.list()).filter((i) => i.type === 'cpu').every((i) => i.status === 'terminated'));
  t.same(provider.pollErrors(), []);
});

t.test('ssh provider - hosts that never answer are reported, retried and not leaked', { skip }, async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.close());
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  const closedPort = await freePort();
  const provider = new SshProvider({
    hosts: [
      sshd.host('refused', { port: closedPort, connectTimeoutS: 2 }),
      sshd.host('hung', { port: silent.port, connectTimeoutS: 2 }),
      sshd.host('wrong-key', { identityFile: join(sshd.dir, 'host_ed25519') }), // a key sshd does not accept
    ],
    attempts: 2,
    retryDelayMs: 50,
    commandTimeoutMs: 6000,
  });
  t.teardown(() => provider.close());
  const ids = await provider.launch('cpu', 3, 'r1');
  t.equal(ids.length, 3);
  await until(async () => (await provider.list()).every((i) => i.status === 'failed'), 40_000);
  const errors = provider.pollErrors();
  for (const id of ids) {
    const mine = errors.filter((e) => e.id === id);
    t.equal(mine.length, 2, `${id}: one error per attempt (retried once)`);
    t.ok(mine.every((e) => e.requestId === 'r1' && e.op === 'launch'));
    t.match(mine[1].message, /attempt 2\/2, giving up/);
  }
  t.ok(errors.filter((e) => e.id === 'refused').every((e) => e.code === 'ssh_unreachable'));
  t.ok(errors.filter((e) => e.id === 'hung').every((e) => e.code === 'ssh_unreachable' || e.code === 'ssh_timeout'));
  t.match(errors.find((e) => e.id === 'wrong-key')?.message, /Permission denied/);
  t.equal(silent.connections(), 2, 'the hung host was tried twice');

  // Nothing leaked: no ssh client left running for those hosts.
  const { execFileSync } = await import('node:child_process');
  const ps = execFileSync('ps', ['-eo', 'args']).toString();
  t.notMatch(ps, new RegExp(`ssh .*-p ${silent.port}`), 'no ssh client hangs on the silent host');
  // The failed hosts are released (terminate is bookkeeping only) and rested before reuse.
  await provider.terminate(ids, 'cleanup');
  t.ok((await provider.list()).every((i) => i.status === 'terminated'));
  t.same(await provider.launch('cpu', 1, 'r2'), [], 'quarantined hosts are not picked again at once');
  t.match(provider.pollErrors(), [{ code: 'no_host' }]);
});

t.test('ssh provider - inventory files are validated (YAML and JSON)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-inv-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const yamlFile = join(dir, 'inv.yaml');
  await writeFile(
    yamlFile,
    ['defaults:', '  user: ops', '  identityFile: /etc/yoloscale/id', '  type: cpu', 'hosts:', '  - name: a', '    address: 10.0.0.1', '  - name: b', '    address: 10.0.0.2', '    type: gpu', '    port: 2222', '    bmc: { url: "https://10.0.1.2/", systemId: "1", username: admin, passwordEnv: BMC_PW }', ''].join('\n'),
  );
  const hosts = loadInventory(yamlFile, { BMC_PW: 'secret' });
  t.match(hosts, [
    { name: 'a', address: '10.0.0.1', port: 22, user: 'ops', type: 'cpu', identityFile: '/etc/yoloscale/id' },
    { name: 'b', port: 2222, type: 'gpu', bmc: { url: 'https://10.0.1.2', systemId: '1', username: 'admin', password: 'secret' } },
  ]);
  t.match(hosts[0].startCommand, /yoloscale worker/);
  const jsonFile = join(dir, 'inv.json');
  await writeFile(jsonFile, JSON.stringify({ hosts: [{ name: 'x', address: 'h', colour: 'red' }] }));
  t.throws(() => loadInventory(jsonFile), { code: 'bad_request', message: /inventory \/hosts\/0/ });
  t.throws(() => parseInventory({ hosts: [] }), { code: 'bad_request' });
  t.throws(() => parseInventory({ hosts: [{ name: 'a', address: 'x' }, { name: 'a', address: 'y' }] }), /duplicate host name "a"/);
  t.throws(() => loadInventory(join(dir, 'missing.yaml')), { code: 'bad_request', message: /cannot read inventory/ });
});
