// Gateway process for the cluster benchmarks and the chaos suite. Its ledger is
// Redis when `redisUrl` is given, else a fresh SQLite file in a temporary data
// directory. It creates `tenants` (default: one enterprise tenant `bench` with
// 10 M top-up tokens) and prints their keys; `tenants: []` creates none (a
// restarted gateway on a shared Redis ledger).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayLogger, runGateway } from '../../gateway/index.js';
import { openLedger } from '../../ledger/index.js';
import { idleV8BackgroundThreads } from '../../protocol/thread-sched.js';

// V8's compiler threads yield to the frame path, as `yoloscale` does (cli/entry.ts, protocol/thread-sched.ts).
idleV8BackgroundThreads();

interface TenantSpec {
  name: string;
  plan: string;
  topup?: number;
}
const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as { scheduler: string; port?: number; redisUrl?: string; tenants?: TenantSpec[] };
const dataDir = mkdtempSync(join(tmpdir(), 'ys-bench-gw-'));
const ledger = await openLedger({ dataDir, ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}) });
const keys: Array<{ tenantId: string; key: string }> = [];
for (const spec of opts.tenants ?? [{ name: 'bench', plan: 'enterprise', topup: 10_000_000 }]) {
  const tenant = await ledger.createTenant({ name: spec.name, plan: spec.plan });
  if (spec.topup) await ledger.topup(tenant.id, spec.topup);
  keys.push({ tenantId: tenant.id, key: (await ledger.createApiKey(tenant.id)).key });
}
const gw = await runGateway({ port: opts.port ?? 0, host: '127.0.0.1', dataDir, ledger, schedulerEndpoint: opts.scheduler, logger: createGatewayLogger('warn') });
process.stdout.write(`${JSON.stringify({ ready: true, url: gw.url, key: keys[0]?.key, keys })}\n`);
process.once('SIGTERM', () => {
  gw.close()
    .then(() => ledger.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
