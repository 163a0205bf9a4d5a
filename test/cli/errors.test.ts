// Issue #7: every admin command's error paths against a real `yoloscale
// scheduler`: scheduler down and wrong token (exit 1, one line on stderr),
// unknown ids (exit 1, the id named), bad arguments (exit 2 and a usage line).
// The CLI runs in-process (`main` with captured output) so forty cases stay cheap;
// test/cli/cluster.test.ts runs the real binary for the same kinds of error.
import t from 'tap';
import type { Test } from 'tap';
import { main } from '../../cli/main.js';
import { startCliScheduler } from '../helpers/cli-scheduler.js';

/** The CLI in this process (its arguments and output only; no process start-up per case). */
async function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => ((stdout += s), true), isTTY: false } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WritableStream,
    env: { ...process.env, ...env },
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

const ADMIN_COMMANDS = [
  ['nodes', 'ls'],
  ['nodes', 'show', 'n1'],
  ['pool', 'status'],
  ['pool', 'forecast'],
  ['tenants', 'ls'],
  ['tenants', 'show', 't1'],
  ['plans', 'ls'],
  ['usage', 't1'],
  ['queue'],
  ['top', '--iterations', '1'],
];

t.test('cli errors - every admin command', async (t: Test) => {
  t.setTimeout(300_000);
  const s = await startCliScheduler(t);
  const cli = (args: string[]) => run(args, s.env);

  t.test('scheduler down: exit 1, one line naming the address', async (t: Test) => {
    const runs = await Promise.all(ADMIN_COMMANDS.map((args) => cli([...args, '--scheduler', 'http://127.0.0.1:9'])));
    runs.forEach((r, i) => {
      const what = ADMIN_COMMANDS[i].join(' ');
      t.equal(r.code, 1, `${what}: exit 1`);
      t.match(r.stderr, /cannot reach the scheduler at http:\/\/127\.0\.0\.1:9/, `${what}: says where`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    });
  });

  t.test('wrong token: exit 1, one line', async (t: Test) => {
    const runs = await Promise.all(ADMIN_COMMANDS.map((args) => cli([...args, '--token', 'not-the-admin-token'])));
    runs.forEach((r, i) => {
      const what = ADMIN_COMMANDS[i].join(' ');
      t.equal(r.code, 1, `${what}: exit 1`);
      t.match(r.stderr, /refused the admin token/, `${what}: says so`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    });
  });

  t.test('unknown ids and invalid plans: exit 1, the culprit named', async (t: Test) => {
    const cases: [string[], RegExp][] = [
      [['nodes', 'show', 'no-such-node'], /no-such-node/],
      [['nodes', 'drain', 'no-such-node'], /no-such-node/],
      [['nodes', 'retire', 'no-such-node'], /no-such-node/],
      [['tenants', 'show', 'no-such-tenant'], /no-such-tenant/],
      [['tenants', 'keys', 'create', 'no-such-tenant'], /no-such-tenant/],
      [['tenants', 'topup', 'no-such-tenant', '5'], /no-such-tenant/],
      [['tenants', 'plan', 'no-such-tenant', 'pro'], /no-such-tenant/],
      [['usage', 'no-such-tenant'], /no-such-tenant/],
      [['tenants', 'create', 'acme', '--plan', 'no-such-plan'], /no-such-plan/],
      [['pool', 'status'], /autoscaling is off on this scheduler: start it with --provider/],
      [['nodes', 'provision', '--type', 'local', '--count', '1'], /autoscaling is off/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((r, i) => {
      const what = cases[i][0].join(' ');
      t.equal(r.code, 1, `${what}: exit 1 (${r.stderr.trim()})`);
      t.match(r.stderr, cases[i][1], `${what}: names it`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    });
  });

  t.test('bad arguments: exit 2 with a usage line', async (t: Test) => {
    const cases = [
      ['nodes', 'frob'],
      ['nodes', 'show'],
      ['nodes', 'provision', '--type', 'local', '--count', 'x'],
      ['pool', 'set', '--min', 'x'],
      ['tenants', 'topup', 't1'],
      ['tenants', 'topup', 't1', 'lots'],
      ['tenants', 'create'],
      ['plans', 'set', 'gold'],
      ['usage'],
      ['queue', 'extra'],
      ['top', '--interval-ms', 'x'],
      ['nodes', 'ls', '--no-such-flag'],
    ];
    const runs = await Promise.all(cases.map((args) => cli(args)));
    runs.forEach((r, i) => {
      const what = cases[i].join(' ');
      t.equal(r.code, 2, `${what}: exit 2 (${r.stderr.trim()})`);
      t.match(r.stderr, /\nusage: yoloscale \S+/, `${what}: usage line`);
    });
  });
});
