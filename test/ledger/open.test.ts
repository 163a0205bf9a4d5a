// openLedger picks the backend from the settings (SPEC.md §2).
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerUnavailableError, SQLITE_LEDGER_FILE, openLedger } from '../../ledger/index.js';
import { startRedis } from '../helpers/redis.js';

t.test('open - no Redis URL: an SQLite file in the data directory, kept across restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'nested', 'data');
  const a = await openLedger({ dataDir });
  t.equal(a.backend, 'sqlite');
  t.ok(existsSync(join(dataDir, SQLITE_LEDGER_FILE)));
  const tenant = await a.createTenant({ name: 'persist' });
  await a.close();
  const b = await openLedger({ dataDir, redisUrl: '' });
  t.equal((await b.getTenant(tenant.id))?.name, 'persist');
  await b.close();
});

t.test('open - a Redis URL selects Redis; an unreachable one fails fast and typed', async (t) => {
  const redis = await startRedis(t);
  const l = await openLedger({ dataDir: '/nonexistent', redisUrl: redis.url });
  t.equal(l.backend, 'redis');
  t.equal((await l.listPlans()).length, 4);
  await l.close();
  await redis.kill();
  await t.rejects(openLedger({ dataDir: '/nonexistent', redisUrl: redis.url }), LedgerUnavailableError);
  await t.rejects(openLedger({ dataDir: '', redisUrl: undefined }), { code: 'bad_request' });
});
