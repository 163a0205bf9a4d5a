import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient } from '../admin-client.js';
import { ensureAdminToken } from '../admin-token.js';
import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { resolveSettings, SETTING_FLAGS } from '../settings.js';
import type { Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';

/** Environment handing the resolved settings to a child process. */
function settingsEnv(s: Settings, token: string): Record<string, string> {
  const env: Record<string, string> = {
    YOLOSCALE_MODELS: s.models,
    YOLOSCALE_DATA_DIR: s.dataDir,
    YOLOSCALE_DEVICE: s.device,
    YOLOSCALE_ADMIN_TOKEN: token,
    YOLOSCALE_PORT: String(s.port),
    YOLOSCALE_ADMIN_PORT: String(s.adminPort),
    YOLOSCALE_WORKER_PORT: String(s.workerPort),
    YOLOSCALE_CLIENT_PORT: String(s.clientPort),
  };
  if (s.redisUrl) env.YOLOSCALE_REDIS_URL = s.redisUrl;
  if (s.topupUrl) env.YOLOSCALE_TOPUP_URL = s.topupUrl;
  return env;
}

async function waitFor(url: string, timeoutMs: number, okStatus = (s: number) => s === 200): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (okStatus(res.status)) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Creates (or reuses) the demo tenant and returns a fresh API key for it. */
async function demoKey(admin: AdminClient): Promise<{ tenant: string; key: string } | undefined> {
  try {
    const list = await admin.request<Array<{ id: string; name: string }> | { tenants: Array<{ id: string; name: string }> }>('GET', '/v1/tenants');
    const tenants = Array.isArray(list) ? list : list.tenants;
    let demo = tenants.find((x) => x.name === 'demo');
    demo ??= await admin.request<{ id: string; name: string }>('POST', '/v1/tenants', { name: 'demo', plan: 'starter' });
    const key = await admin.request<{ key: string }>('POST', `/v1/tenants/${encodeURIComponent(demo.id)}/keys`, {});
    return { tenant: demo.id, key: key.key };
  } catch {
    return undefined;
  }
}

export const upCommand: CommandSpec = {
  name: 'up',
  summary: 'Run a whole cluster on this host: scheduler, gateway and local workers',
  usage: [
    'up [--workers N] [--max-workers N] [--models DIR] [--data-dir DIR] [--port N] [--admin-port N] [--device auto|cuda|cpu] [--echo] [--interval-s N] [--idle-timeout-s N] [--cooldown-s N]',
  ],
  examples: [
    'yoloscale up',
    'yoloscale up --workers 2 --models ./models',
    'yoloscale up --workers 1 --max-workers 3 --idle-timeout-s 120   # autoscale local workers between 1 and 3',
    'YOLOSCALE_REDIS_URL=redis://127.0.0.1:6379 yoloscale up',
  ],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        ...SETTING_FLAGS,
        echo: { type: 'boolean' },
        'max-workers': { type: 'string' },
        'interval-s': { type: 'string' },
        'idle-timeout-s': { type: 'string' },
        'cooldown-s': { type: 'string' },
      },
      this.usage[0],
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const settings = resolveSettings(values, ctx.io.env);
    const token = ensureAdminToken(settings);
    mkdirSync(settings.dataDir, { recursive: true });
    const logDir = join(settings.dataDir, 'logs');
    const say = (line: string) => {
      if (!ctx.global.json) ctx.io.stdout.write(`${line}\n`);
    };
    const sup = new Supervisor({ logDir, onEvent: (l) => say(`  · ${l}`) });
    const env = { ...settingsEnv(settings, token), ...(values.echo ? { YOLOSCALE_ECHO: '1' } : {}) };
    const adminUrl = `http://127.0.0.1:${settings.adminPort}`;
    const gatewayUrl = `http://127.0.0.1:${settings.port}`;

    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= sup.stop());
    const signalled = new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });

    // Workers are the scheduler's to start: its autoscaler keeps `--workers` warm local
    // worker processes, launches more (up to `--max-workers`) ahead of demand, drains and
    // retires the extra ones when idle, and replaces a crashed one.
    const maxWorkers = intFlag('max-workers', values['max-workers'] as string | undefined) ?? Math.max(settings.workers, 4);
    if (maxWorkers < settings.workers) throw new UsageError(`--max-workers (${maxWorkers}) must be at least --workers (${settings.workers})`, this.usage[0]);
    const pool = ['--provider', 'local', '--pool-min', String(settings.workers), '--pool-max', String(maxWorkers)];
    pool.push('--interval-s', String(intFlag('interval-s', values['interval-s'] as string | undefined) ?? 15));
    pool.push('--idle-timeout-s', String(intFlag('idle-timeout-s', values['idle-timeout-s'] as string | undefined, 0) ?? 60));
    pool.push('--cooldown-s', String(intFlag('cooldown-s', values['cooldown-s'] as string | undefined, 0) ?? 30));

    say(`yoloscale: starting a local cluster (logs in ${logDir})`);
    sup.start({ name: 'scheduler', args: ['scheduler', ...pool], env, restart: true });
    if (!(await waitFor(`${adminUrl}/healthz`, 30_000))) {
      await stop();
      throw new Error(`the scheduler did not come up on ${adminUrl} within 30 s; see ${join(logDir, 'scheduler.log')}`);
    }
    sup.start({ name: 'gateway', args: ['gateway'], env, restart: true });
    const ready = await waitFor(`${gatewayUrl}/readyz`, 60_000);
    const demo = await demoKey(new AdminClient({ baseUrl: adminUrl, token }));
    const info = {
      gateway: gatewayUrl,
      webPage: `${gatewayUrl}/`,
      docs: `${gatewayUrl}/docs`,
      admin: adminUrl,
      adminToken: token,
      demoTenant: demo?.tenant ?? null,
      demoKey: demo?.key ?? null,
      ready,
      logs: logDir,
    };
    if (ctx.global.json) printJson(ctx.io, info);
    else {
      say('');
      say(`  gateway     ${info.gateway}   (web page ${info.webPage}, API docs ${info.docs})`);
      say(`  admin API   ${info.admin}`);
      say(`  admin token ${token}`);
      if (demo) say(`  demo key    ${demo.key}   (tenant ${demo.tenant})`);
      say(ready ? '  ready: a worker is serving' : '  not ready yet: no worker has registered (see the worker logs)');
      say('');
      say('Try:  curl -H "Authorization: Bearer <demo key>" --data-binary @bus.jpg -H "content-type: image/jpeg" ' + `${gatewayUrl}/v1/detect`);
      say('Press Ctrl-C to stop.');
    }
    await signalled;
    say('yoloscale: stopping…');
    await stop();
    say('yoloscale: stopped');
    return 0;
  },
};
