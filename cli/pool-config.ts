import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../protocol/index.js';
import type { ProviderConfig, RunSchedulerOptions } from '../scheduler/index.js';
import { clusterExecArgv } from '../protocol/v8-flags.js';
import { intFlag } from './context.js';
import { UsageError } from './errors.js';
import type { Settings } from './settings.js';

/**
 * Autoscaling settings of `yoloscale scheduler` (SPEC.md §9): which node
 * provider, and the pool's bounds and timers. From flags, `YOLOSCALE_PROVIDER`
 * and an optional `--pool-config FILE` (YAML or JSON):
 *
 * ```yaml
 * provider: { kind: ssh, inventory: /etc/yoloscale/inventory.yaml }
 * min: 1
 * max: 6
 * idleTimeoutS: 300
 * ```
 *
 * `--provider local` needs no file: it starts `yoloscale worker` child
 * processes of this very program, pointed at this scheduler.
 */

/** Flags of the scheduler command that configure autoscaling. */
export const POOL_FLAGS = Object.freeze({
  provider: { type: 'string' as const },
  'pool-config': { type: 'string' as const },
  'pool-min': { type: 'string' as const },
  'pool-max': { type: 'string' as const },
  'interval-s': { type: 'string' as const },
  'idle-timeout-s': { type: 'string' as const },
  'cooldown-s': { type: 'string' as const },
});

/** Usage fragment of {@link POOL_FLAGS}. */
export const POOL_USAGE = '[--provider none|local|ssh|redfish|command] [--pool-config FILE] [--pool-min N] [--pool-max N] [--interval-s N] [--idle-timeout-s N] [--cooldown-s N]';

const PROVIDERS = ['none', 'local', 'ssh', 'redfish', 'command'];
const FILE_KEYS = new Set(['provider', 'min', 'max', 'intervalS', 'idleTimeoutS', 'cooldownS', 'nodeType', 'targetUtilisation', 'queueDrainS', 'bootTimeoutS', 'capacityPriorTokensPerS']);

function readPoolFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`cannot read pool config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`pool config ${path} must hold an object`);
  for (const k of Object.keys(doc)) if (!FILE_KEYS.has(k)) throw new UsageError(`pool config ${path}: unknown key "${k}" (${[...FILE_KEYS].join(', ')})`);
  return doc as Record<string, unknown>;
}

/** The worker command a `local` provider starts: this program, same Node flags (plus the cluster's, protocol/v8-flags.ts), pointed at this scheduler. */
export function localWorkerCommand(settings: Settings): string[] {
  return [
    process.execPath,
    ...clusterExecArgv(),
    process.argv[1],
    'worker',
    '--scheduler',
    `tcp://127.0.0.1:${settings.workerPort}`,
    '--models',
    settings.models,
    '--device',
    settings.device,
  ];
}

/**
 * Builds `runScheduler`'s `autoscaling` option from the command's flags;
 * `undefined` when autoscaling is off (`--provider none`, the default).
 */
export async function poolFromFlags(
  values: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
  settings: Settings,
  logger: Logger,
): Promise<RunSchedulerOptions['autoscaling']> {
  const file = typeof values['pool-config'] === 'string' ? readPoolFile(values['pool-config']) : {};
  const fileProvider = file.provider as ({ kind?: unknown } & Record<string, unknown>) | undefined;
  if (fileProvider !== undefined && (typeof fileProvider !== 'object' || fileProvider === null)) throw new UsageError('pool config: provider must be an object with a "kind"');
  const kind = (values.provider as string | undefined) ?? (env.YOLOSCALE_PROVIDER || undefined) ?? (fileProvider?.kind as string | undefined) ?? 'none';
  if (!PROVIDERS.includes(kind)) throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}, got "${kind}"`);
  if (kind === 'none') return undefined;

  let config: ProviderConfig;
  if (kind === 'local') {
    if (settings.workerPort === 0) throw new UsageError('--provider local needs a fixed --worker-port (not 0)');
    config = {
      kind: 'local',
      command: localWorkerCommand(settings),
      nodeIdFlag: '--node-id',
      logDir: join(settings.dataDir, 'logs'),
      ...(fileProvider?.kind === 'local' ? fileProvider : {}),
    } as ProviderConfig;
  } else {
    if (fileProvider?.kind !== kind) throw new UsageError(`--provider ${kind} needs --pool-config FILE with provider: { kind: ${kind}, … }`);
    config = fileProvider as unknown as ProviderConfig;
  }
  const { createProvider } = await import('../scheduler/autoscaler/index.js');
  let provider;
  try {
    provider = createProvider(config, logger);
  } catch (err) {
    throw new UsageError(`pool config: ${(err as Error).message}`);
  }
  const num = (flag: string, key: string, min: number): number | undefined => {
    const fromFlag = intFlag(flag, values[flag] as string | undefined, min);
    if (fromFlag !== undefined) return fromFlag;
    const v = file[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= min)) throw new UsageError(`pool config: ${key} must be a number ≥ ${min}`);
    return v;
  };
  const rest = Object.fromEntries(Object.entries(file).filter(([k]) => !['provider', 'min', 'max', 'intervalS', 'idleTimeoutS', 'cooldownS'].includes(k)));
  return {
    ...rest,
    provider,
    min: num('pool-min', 'min', 0) ?? settings.workers,
    max: num('pool-max', 'max', 1) ?? Math.max(settings.workers, 4),
    intervalS: num('interval-s', 'intervalS', 1),
    idleTimeoutS: num('idle-timeout-s', 'idleTimeoutS', 0),
    cooldownS: num('cooldown-s', 'cooldownS', 0),
  };
}
