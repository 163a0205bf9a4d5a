// ZeroMQ CURVE between hosts (SPEC §13, issue #8): a scheduler with a secret
// key only talks to workers and gateways that hold its public key.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { keysCommand } from '../../cli/commands/keys.js';
import { curveClient, curveServer, resolveSettings } from '../../cli/settings.js';
import { NodeAgent } from '../../worker/agent/index.js';
import { DealerSocket, RouterSocket, SchedulerClient, curveKeyPair, isCurveKey, orientedSize, probeImageHeader } from '../../protocol/index.js';
import { runCli } from '../helpers/cli.js';
import { PHOTO, nodes, submit } from '../helpers/cluster.js';
import { startScheduler, startWorker } from '../helpers/processes.js';

t.test('curve - only workers and gateways holding the scheduler key get through; the others never reach it', async (t: Test) => {
  const server = curveKeyPair();
  const worker = curveKeyPair();
  const impostor = curveKeyPair();
  const s = await startScheduler(t, { curve: { secretKey: server.secretKey } });
  await startWorker(t, s.workerEndpoint, { nodeId: 'curve-ok', curve: { serverKey: server.publicKey, publicKey: worker.publicKey, secretKey: worker.secretKey } });
  // A node agent trusting another server key, and one speaking plain TCP (in this process; the scheduler is another).
  for (const [nodeId, curve] of [['curve-wrong-key', { serverKey: impostor.publicKey }], ['curve-none', undefined]] as const) {
    const agent = new NodeAgent({ scheduler: s.workerEndpoint, nodeId, engine: null, echo: true, curve });
    t.teardown(() => agent.close());
    await agent.start();
  }

  const good = new SchedulerClient({ endpoint: s.clientEndpoint, curve: { serverKey: server.publicKey } });
  t.teardown(() => good.close());
  good.connect();
  await good.waitReady(15_000);
  const r = await submit(good);
  t.same(r.image, orientedSize(probeImageHeader(PHOTO)), 'the worker with the right key serves frames through the encrypted sockets');

  // Three heartbeats later, the other two workers have retried their handshakes many times.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  t.same(
    (await nodes(s)).map((n) => n.id),
    ['curve-ok'],
    'the scheduler never saw the wrong-key or plain worker',
  );
  t.equal(good.ready().workers, 1, 'one ready worker');

  const plain = new SchedulerClient({ endpoint: s.clientEndpoint, graceMs: 100 });
  t.teardown(() => plain.close());
  plain.connect();
  await t.rejects(plain.waitReady(2_000), { code: 'no_capacity' }, 'a gateway without CURVE gets no status');
  t.equal(plain.ready().scheduler, false);
  const lost = await submit(plain, { deadlineMs: 300 }).then(
      () => 'answered',
      (e: { code?: string }) => e.code,
    );
  t.equal(lost, 'deadline_exceeded', 'nor any answer to its frames');

  const again = await Promise.all([submit(good), submit(good)]);
  t.equal(again.length, 2, 'the scheduler keeps serving the right worker and gateway');
});

t.test('curve - socket options are checked', async (t: Test) => {
  const { publicKey, secretKey } = curveKeyPair();
  t.ok(isCurveKey(publicKey) && isCurveKey(secretKey), 'keypairs are 40-character Z85');
  t.notOk(isCurveKey('short'));
  t.throws(() => new RouterSocket({ curve: { secretKey: 'not-a-key' } }), /options\.curve\.secretKey must be a 40-character Z85 CURVE key/);
  t.throws(() => new DealerSocket({ curve: { serverKey: publicKey, publicKey } }), /options\.curve\.publicKey and options\.curve\.secretKey go together/);
  t.throws(() => new DealerSocket({ curve: { serverKey: 'x'.repeat(39) } }), /options\.curve\.serverKey must be/);
  t.throws(() => new RouterSocket({ curve: { serverKey: publicKey, secretKey } as never }), /serverKey is for a dealer/);
});

t.test('curve - `yoloscale keys curve --out` writes a keypair the settings accept as files', async (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-curve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = await runCli(['--json', 'keys', 'curve', '--out', join(dir, 'head')]);
  t.equal(run.code, 0, run.stderr);
  const printed = JSON.parse(run.stdout) as { publicKey: string; secretFile: string; publicFile: string };
  t.equal(statSync(printed.secretFile).mode & 0o777, 0o600, 'the secret key file is private');
  t.match(readFileSync(printed.publicFile, 'utf8'), printed.publicKey);
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {} };
  await t.rejects(
    keysCommand.run(['curve', '--out', join(dir, 'head')], { io, global: { json: false, scheduler: undefined, token: undefined, config: undefined } }),
    { name: 'UsageError', message: /cannot write the key files/ },
    'never overwrites existing key files',
  );

  const head = resolveSettings({ 'curve-secret-key': printed.secretFile }, {});
  t.ok(isCurveKey(head.curveSecretKey), 'a key file is read');
  t.same(curveServer(head), { secretKey: head.curveSecretKey });
  const node = resolveSettings({}, { YOLOSCALE_CURVE_SERVER_KEY: printed.publicKey });
  t.same(curveClient(node), { serverKey: printed.publicKey }, 'a key in the environment; own keypair left to a fresh one');
  t.throws(() => resolveSettings({ 'curve-server-key': join(dir, 'missing.pub') }, {}), /curveServerKey .*neither a 40-character Z85 key nor a readable key file/);
  t.throws(() => curveClient(resolveSettings({ 'curve-server-key': printed.publicKey, 'curve-public-key': printed.publicKey }, {})), /go together/);
  t.equal(curveClient(resolveSettings({}, {})), undefined, 'CURVE is off by default');
});
