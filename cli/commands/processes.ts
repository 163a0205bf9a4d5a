// Each part loads its own modules when it runs (a worker never loads the gateway, the ledger or the
// scheduler, and the other way round): smaller processes and a quicker `yoloscale --help`.
import { createLogger } from '../../protocol/index.js';
import { ensureAdminToken } from '../admin-token.js';
import { POOL_FLAGS, POOL_USAGE, poolFromFlags } from '../pool-config.js';
import type { CommandContext, CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs } from '../context.js';
import { UsageError } from '../errors.js';
import { curveClient, curveServer, resolveSettings, SETTING_FLAGS } from '../settings.js';

/** How often the scheduler re-evaluates elastic plans. */
const ELASTIC_SWEEP_MS = 5 * 60_000;

function noPositionals(positionals: string[], usage: string): void {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, usage);
}

/** Resolves when the process is asked to stop, for parts that do not handle signals themselves. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

export const schedulerCommand: CommandSpec = {
  name: 'scheduler',
  summary: 'Run the head node: worker and gateway sockets, fair-share queues, admin API',
  usage: [`scheduler [--worker-port 5555] [--client-port 5556] [--admin-port 8081] [--max-batch N] [--max-delay-ms N] [--data-dir DIR] [--redis-url URL] ${POOL_USAGE}`],
  examples: [
    'yoloscale scheduler',
    'YOLOSCALE_ADMIN_TOKEN=secret yoloscale scheduler --admin-port 9081',
    'yoloscale scheduler --provider local --pool-min 1 --pool-max 3   # autoscale local worker processes',
    'yoloscale scheduler --provider ssh --pool-config pool.yaml       # autoscale hosts of an inventory',
  ],
  async run(argv: string[], ctx: CommandContext) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { ...SETTING_FLAGS, ...POOL_FLAGS, 'max-batch': { type: 'string' }, 'max-delay-ms': { type: 'string' } },
      this.usage[0],
    );
    noPositionals(positionals, this.usage[0]);
    const settings = resolveSettings(values, ctx.io.env);
    const [{ applyElasticPlans, openLedger }, { runScheduler }, { tenantRoutes }, { Notifier }] = await Promise.all([
      import('../../ledger/index.js'),
      import('../../scheduler/main.js'),
      import('../../scheduler/admin/tenants.js'),
      import('../../scheduler/notify/index.js'),
    ]);
    const logger = createLogger('scheduler');
    const autoscaling = await poolFromFlags(values, ctx.io.env, settings, logger);
    const ledger = await openLedger({ redisUrl: settings.redisUrl, dataDir: settings.dataDir });
    const handle = await runScheduler({
      adminToken: ensureAdminToken(settings),
      workerPort: settings.workerPort,
      clientPort: settings.clientPort,
      adminPort: settings.adminPort,
      maxBatch: intFlag('max-batch', values['max-batch'] as string | undefined),
      maxDelayMs: intFlag('max-delay-ms', values['max-delay-ms'] as string | undefined, 0),
      adminPlugins: [{ plugin: tenantRoutes, opts: { ledger } }],
      curve: curveServer(settings),
      autoscaling,
      logger,
    });
    logger.info({ workers: handle.workerEndpoint, gateways: handle.clientEndpoint, admin: handle.adminUrl }, 'scheduler listening');
    // Elastic plans (SPEC §7) move tenants between their min and max plan from their forecast.
    const sweep = setInterval(() => {
      applyElasticPlans(ledger).then(
        (moves) => {
          for (const m of moves) if (m.decision.action !== 'stay') logger.info({ tenant: m.tenantId, decision: m.decision }, 'elastic plan change');
        },
        (err: unknown) => logger.warn({ err }, 'elastic plan sweep failed'),
      );
    }, ELASTIC_SWEEP_MS);
    sweep.unref();
    // Tenant webhooks (issue #9): deliver the ledger's outbox from this process.
    const notifier = new Notifier({ ledger, metricsRegistry: handle.metricsRegistry, logger: logger.child({ part: 'notifier' }) });
    notifier.start();
    await handle.closed;
    clearInterval(sweep);
    await notifier.stop();
    await ledger.close();
    // 1 when the scheduler stopped on an error (its core thread died, or an uncaught error here).
    return process.exitCode === 1 ? 1 : 0;
  },
};

export const gatewayCommand: CommandSpec = {
  name: 'gateway',
  summary: 'Run the HTTP/WebSocket edge: REST detection, video streams, web page, auth and charging',
  usage: ['gateway [--port 8080] [--scheduler tcp://HOST:5556] [--data-dir DIR] [--redis-url URL] [--topup-url URL]'],
  examples: ['yoloscale gateway', 'yoloscale gateway --scheduler tcp://head.example:5556 --redis-url redis://ledger:6379'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, SETTING_FLAGS, this.usage[0]);
    noPositionals(positionals, this.usage[0]);
    const settings = resolveSettings(values, ctx.io.env);
    // `--scheduler` is the global flag (the admin URL for other commands); a tcp:// value names the scheduler's gateway socket.
    const endpoint = ctx.global.scheduler?.startsWith('tcp://') ? ctx.global.scheduler : `tcp://127.0.0.1:${settings.clientPort}`;
    const { runGateway } = await import('../../gateway/index.js');
    const gw = await runGateway({
      port: settings.port, dataDir: settings.dataDir, redisUrl: settings.redisUrl, schedulerEndpoint: endpoint, schedulerCurve: curveClient(settings),
      ...(settings.topupUrl ? { topupUrl: settings.topupUrl } : {}),
    });
    await untilSignal();
    await gw.close();
    return 0;
  },
};

export const workerCommand: CommandSpec = {
  name: 'worker',
  summary: 'Run a worker node: ONNX Runtime sessions in a thread pool, connected to the scheduler',
  usage: ['worker [--scheduler tcp://HOST:5555] [--models DIR] [--device auto|cuda|cpu] [--threads N] [--slots N] [--node-id ID] [--echo [--echo-delay-ms N]]'],
  examples: ['yoloscale worker --scheduler tcp://head.example:5555', 'YOLOSCALE_ECHO=1 yoloscale worker --device cpu --threads 2'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { ...SETTING_FLAGS, threads: { type: 'string' }, slots: { type: 'string' }, 'node-id': { type: 'string' }, echo: { type: 'boolean' }, 'echo-delay-ms': { type: 'string' } },
      this.usage[0],
    );
    noPositionals(positionals, this.usage[0]);
    const settings = resolveSettings(values, ctx.io.env);
    const scheduler = ctx.global.scheduler?.startsWith('tcp://') ? ctx.global.scheduler : `tcp://127.0.0.1:${settings.workerPort}`;
    const logger = createLogger('worker');
    const { runWorker } = await import('../../worker/agent/main.js');
    const handle = await runWorker({
      scheduler,
      modelsDir: settings.models,
      device: settings.device,
      threads: intFlag('threads', values.threads as string | undefined),
      slots: intFlag('slots', (values.slots as string | undefined) ?? (ctx.io.env.YOLOSCALE_WORKER_SLOTS || undefined)),
      nodeId: (values['node-id'] as string | undefined) ?? (ctx.io.env.YOLOSCALE_NODE_ID || undefined),
      echo: Boolean(values.echo) || ctx.io.env.YOLOSCALE_ECHO === '1',
      curve: curveClient(settings),
      // Echo answers after this long per batch: a stand-in for inference time in load tests.
      // A `local` node (launched by a scheduler's autoscaler) stops with the scheduler that launched it.
      exitWithParentPid: ctx.io.env.YOLOSCALE_PARENT_PID ? Number(ctx.io.env.YOLOSCALE_PARENT_PID) : undefined,
      echoDelayMs: intFlag('echo-delay-ms', (values['echo-delay-ms'] as string | undefined) ?? (ctx.io.env.YOLOSCALE_ECHO_DELAY_MS || undefined), 0),
      logger,
    });
    logger.info({ nodeId: handle.nodeId, scheduler }, 'worker started');
    await handle.closed;
    return 0;
  },
};
