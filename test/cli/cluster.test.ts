import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { SCHED_IDLE, idleV8ThreadsWanted } from '../../protocol/thread-sched.js';
import { clusterNodeFlags } from '../../protocol/v8-flags.js';
import { CLI_ARGV, runCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { REPO_ROOT } from '../helpers/env.js';
import { startUp } from '../helpers/up.js';

/**
 * The ops CLI against a real `yoloscale up` (echo workers so no inference
 * cost): every admin command is a client of the scheduler's admin API.
 */
function hasTmux(): boolean {
  return spawnSync('sh', ['-c', 'command -v tmux']).status === 0;
}

t.test('cli against a running cluster', async (t) => {
  t.setTimeout(600_000);
  const { info, env, port, adminPort, dataDir, proc: up, exited, cli } = await startUp(t, ['--echo', '--workers', '2']);
  t.equal(info.ready, true, 'a worker is serving');
  t.match(info.adminToken, /^ysa_/);
  t.equal(readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(), info.adminToken, 'token kept in the data directory');

  // Wait until both workers registered.
  let nodes: Array<{ id: string; state: string }> = [];
  for (let i = 0; i < 50 && nodes.filter((n) => n.state === 'ready').length < 2; i++) {
    nodes = JSON.parse((await cli(['nodes', 'ls', '--json'])).stdout) as typeof nodes;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(nodes.filter((n) => n.state === 'ready').length, 2, 'two ready workers');

  t.test('the cluster processes run with the cluster V8 flags on their command line, and V8’s threads idle', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
    // Descendants of `up` that run the CLI (the workers are the scheduler's, through its `local` provider).
    const parent = new Map<number, number>();
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]));
      } catch {
        /* gone */
      }
    }
    const under = (pid: number): boolean => {
      for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === up.pid) return true;
      return false;
    };
    const children = [...parent.keys()]
      .filter(under)
      .map((pid) => ({ pid, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') }))
      .filter(({ argv }) => argv[0] === process.execPath);
    t.ok(children.length >= 4, `scheduler, gateway and two workers: ${children.length} children`);
    const want = clusterNodeFlags();
    for (const { argv } of children) for (const flag of want) t.ok(argv.includes(flag), `${argv.slice(-6).join(' ')}: ${flag}`);
    if (want.length === 0) t.pass(`no command-line flags on ${availableParallelism()} cores`);
    // And V8's background threads run SCHED_IDLE where that is wanted (protocol/thread-sched.ts); policy is field 41 of a thread's stat.
    const idleWanted = idleV8ThreadsWanted(process.env, availableParallelism(), want);
    for (const { pid, argv } of children) {
      const idle = readdirSync(`/proc/${pid}/task`).filter((tid) => {
        try {
          return readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[38] === String(SCHED_IDLE);
        } catch {
          return false;
        }
      });
      t.equal(idle.length, idleWanted ? 5 : 0, `${argv.slice(-6).join(' ')}: ${idle.length} SCHED_IDLE threads`);
    }
  });
  const api = (await (await fetch(`http://127.0.0.1:${adminPort}/v1/nodes`, { headers: { authorization: `Bearer ${info.adminToken}` } })).json()) as { nodes: Array<{ id: string }> };
  t.same(nodes.map((n) => n.id).sort(), api.nodes.map((n) => n.id).sort(), 'nodes ls --json matches GET /v1/nodes');

  const human = await cli(['nodes', 'ls']);
  t.match(human.stdout, /^ID\s+STATE\s+TYPE\s+DEVICE\s+SLOTS/m, 'aligned table header');

  t.test('error paths: wrong token, scheduler down, unknown node, bad arguments', async (t) => {
    const wrong = await runCli(['nodes', 'ls', '--token', 'not-the-token'], { env });
    t.equal(wrong.code, 1);
    t.match(wrong.stderr, /refused the admin token/);
    t.equal(wrong.stderr.trim().split('\n').length, 1);
    const down = await runCli(['nodes', 'ls', '--scheduler', 'http://127.0.0.1:9'], { env });
    t.equal(down.code, 1);
    t.match(down.stderr, /cannot reach the scheduler at http:\/\/127\.0\.0\.1:9/);
    const unknown = await cli(['nodes', 'cordon', 'no-such-node']);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /no-such-node/);
    const bad = await cli(['nodes', 'provision', '--count', 'x', '--type', 'cpu']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /usage: yoloscale/);
    const badPlan = await cli(['tenants', 'create', 'acme', '--plan', 'no-such-plan']);
    t.equal(badPlan.code, 1);
    t.match(badPlan.stderr, /no-such-plan/);
  });

  t.test('tenants, keys, top-ups and plans change what the gateway enforces at once', async (t) => {
    const set = await cli(['plans', 'set', 'tiny', '--tokens-per-hour', '2', '--models', 'echo', '--overflow', 'reject']);
    t.equal(set.code, 0, set.stderr);
    const created = JSON.parse((await cli(['tenants', 'create', 'acme', '--plan', 'tiny', '--json'])).stdout) as { id: string; plan: string };
    t.equal(created.plan, 'tiny');
    const key = (JSON.parse((await cli(['tenants', 'keys', 'create', created.id, '--json'])).stdout) as { key: string }).key;
    const detect = () =>
      fetch(`http://127.0.0.1:${port}/v1/detect?model=echo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'image/jpeg' },
        body: readFileSync(join(REPO_ROOT, '..', 'shared', 'images', 'dog.jpg')),
      });
    t.equal((await detect()).status, 200);
    t.equal((await detect()).status, 200);
    const refused = await detect();
    t.equal(refused.status, 429, 'budget of 2 spent');
    t.ok(Number(refused.headers.get('retry-after')) > 0);
    t.equal((await cli(['tenants', 'topup', created.id, '1'])).code, 0);
    t.equal((await detect()).status, 200, 'top-up spendable at once');
    t.equal((await detect()).status, 429);
    t.equal((await cli(['plans', 'set', 'tiny2', '--tokens-per-hour', '100', '--models', 'echo'])).code, 0);
    t.equal((await cli(['tenants', 'plan', created.id, 'tiny2'])).code, 0);
    t.equal((await detect()).status, 200, 'upgrade takes effect at once');
    const usage = JSON.parse((await cli(['usage', created.id, '--json'])).stdout) as { hourly: Array<{ model: string; tokens: number }>; changes: unknown[] };
    t.equal(usage.hourly.filter((h) => h.model === 'echo').reduce((s, h) => s + h.tokens, 0), 4, 'usage shows every token');
    t.ok(usage.changes.length >= 2, 'top-up and plan change audited');
    const tenants = await cli(['tenants', 'ls']);
    t.match(tenants.stdout, /acme\s+tiny2/);
  });

  t.test('cordon stops new batches to a node; drain --wait returns when it is idle', async (t) => {
    const [a, b] = nodes;
    t.equal((await cli(['nodes', 'cordon', a.id])).code, 0);
    const before = JSON.parse((await cli(['nodes', 'show', a.id, '--json'])).stdout) as { framesDone: number; state: string };
    t.equal(before.state, 'cordoned');
    const created = JSON.parse((await cli(['tenants', 'create', 'cordon-test', '--plan', 'enterprise', '--json'])).stdout) as { id: string };
    const key = (JSON.parse((await cli(['tenants', 'keys', 'create', created.id, '--json'])).stdout) as { key: string }).key;
    const img = readFileSync(join(REPO_ROOT, '..', 'shared', 'images', 'dog.jpg'));
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`http://127.0.0.1:${port}/v1/detect?model=echo`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/jpeg' }, body: img }).then((r) => r.status),
      ),
    );
    t.same(new Set(statuses), new Set([200]), 'all served by the other node');
    const after = JSON.parse((await cli(['nodes', 'show', a.id, '--json'])).stdout) as { framesDone: number };
    t.equal(after.framesDone, before.framesDone, 'cordoned node got no frames');
    // The others served them: b, and any node the autoscaler launched to keep 2 schedulable while a is cordoned.
    const others = (JSON.parse((await cli(['nodes', 'ls', '--json'])).stdout) as { id: string; framesDone: number }[]).filter((n) => n.id !== a.id);
    t.ok(others.reduce((sum, n) => sum + n.framesDone, 0) >= 20, 'served by the nodes that are not cordoned');
    t.equal((await cli(['nodes', 'uncordon', a.id])).code, 0);
    const drain = await cli(['nodes', 'drain', b.id, '--wait', '--timeout-s', '30']);
    t.equal(drain.code, 0, drain.stderr);
    t.match(drain.stdout, /drained/);
  });

  t.test('top prints plain snapshots when piped', async (t) => {
    const top = await cli(['top', '--iterations', '2', '--interval-ms', '200']);
    t.equal(top.code, 0, top.stderr);
    t.equal(top.stdout.match(/yoloscale top —/g)?.length, 2, 'two snapshots');
    t.notMatch(top.stdout, /\x1b\[/, 'no terminal escapes when not a TTY');
    t.match(top.stdout, /LANE\s+QUEUED/);
  });

  t.test('top under tmux shows the nodes, follows the load and quits on q', { skip: hasTmux() ? false : 'tmux is not installed (apt-get install -y tmux)' }, async (t) => {
    const sock = `ys-top-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
    t.teardown(() => void tmux('kill-server'));
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const command = [process.execPath, ...CLI_ARGV, 'top', '--interval-ms', '300'].map((a) => `'${a}'`).join(' ');
    const started = tmux('new-session', '-d', '-s', 'top', '-x', '200', '-y', '60', ...envArgs, command);
    t.equal(started.status, 0, started.stderr);
    const pane = () => tmux('capture-pane', '-p', '-t', 'top').stdout;
    const framesOf = (text: string) => {
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (cols.length >= 8 && /^(provisioning|booting|ready|cordoned|draining|retired|failed)$/.test(cols[1])) out.set(cols[0], Number(cols[6]));
      }
      return out;
    };
    const live = JSON.parse((await cli(['nodes', 'ls', '--json'])).stdout) as { id: string; state: string }[];
    await until(() => /yoloscale top —/.test(pane()) && live.every((n) => framesOf(pane()).has(n.id)), 30_000);
    const first = pane();
    t.match(first, /ID\s+STATE\s+TYPE\s+DEVICE\s+SLOTS\s+IN FLIGHT\s+FRAMES/, 'the node table is on screen');
    for (const n of live) t.ok(framesOf(first).has(n.id), `shows ${n.id}`);
    const before = [...framesOf(first).values()].reduce((a, b) => a + b, 0);
    const created = JSON.parse((await cli(['tenants', 'create', 'top-test', '--plan', 'enterprise', '--json'])).stdout) as { id: string };
    const key = (JSON.parse((await cli(['tenants', 'keys', 'create', created.id, '--json'])).stdout) as { key: string }).key;
    const img = readFileSync(join(REPO_ROOT, '..', 'shared', 'images', 'dog.jpg'));
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/v1/detect?model=echo`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/jpeg' }, body: img });
      await r.arrayBuffer();
    }
    await until(() => [...framesOf(pane()).values()].reduce((a, b) => a + b, 0) >= before + 10, 30_000);
    t.pass('the FRAMES column counts the new load');
    tmux('send-keys', '-t', 'top', 'q');
    await until(() => tmux('has-session', '-t', 'top').status !== 0, 15_000);
    t.pass('q quits');
  });

  t.test('up stops every child on SIGTERM', async (t) => {
    up.kill('SIGTERM');
    t.equal(await exited, 0);
    const down = await cli(['nodes', 'ls']);
    t.equal(down.code, 1, 'scheduler is gone');
  });
});
