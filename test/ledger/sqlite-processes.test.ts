// The SQLite ledger stays exact when several processes share its file.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SqliteLedger } from '../../ledger/index.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./fixtures/sqlite-debit-process.ts', import.meta.url));

t.test('ledger - three processes debiting one SQLite file never overdraw it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-ledger-proc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ledger.sqlite');
  const ledger = SqliteLedger.open({ path });
  t.teardown(() => ledger.close());
  await ledger.putPlan('k', { tokensPerHour: 500 });
  const tenant = await ledger.createTenant({ name: 'shared', plan: 'k' });
  await ledger.debit(tenant.id, { cost: 200, model: 'yolox-nano', frameId: 'setup' });
  // 300 tokens left; three processes with their own connections ask for 600 in all, starting together.
  const startAt = String(Date.now() + 4000);
  const children = ['a', 'b', 'c'].map((tag) => run(process.execPath, ['--import', 'tsx', CHILD, path, tenant.id, '200', tag, startAt]));
  const outs = (await Promise.all(children)).map((c) => JSON.parse(c.stdout) as { charged: number; denied: number });
  t.comment(`charged per process: ${outs.map((o) => o.charged).join(', ')}`);
  t.equal(outs.reduce((s, o) => s + o.charged, 0), 300, 'exactly the remaining 300 tokens were charged');
  t.equal(outs.reduce((s, o) => s + o.charged + o.denied, 0), 600);
  t.match(await ledger.balance(tenant.id), { usedThisHour: 500, remaining: 0 });
});
