// Gateway process for the e2e benchmark: a fresh SQLite ledger in a temporary
// data directory with one enterprise tenant and its key.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayLogger, runGateway } from '../../gateway/index.js';
import { openLedger } from '../../ledger/index.js';

const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as { scheduler: string };
const dataDir = mkdtempSync(join(tmpdir(), 'ys-bench-gw-'));
const ledger = await openLedger({ dataDir });
const tenant = await ledger.createTenant({ name: 'bench', plan: 'enterprise' });
await ledger.topup(tenant.id, 10_000_000);
const { key } = await ledger.createApiKey(tenant.id);
const gw = await runGateway({ port: 0, host: '127.0.0.1', dataDir, ledger, schedulerEndpoint: opts.scheduler, logger: createGatewayLogger('warn') });
process.stdout.write(`${JSON.stringify({ ready: true, url: gw.url, key })}\n`);
process.once('SIGTERM', () => {
  gw.close()
    .then(() => ledger.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
