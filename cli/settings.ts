import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { isCurveKey } from '../protocol/index.js';
import { UsageError } from './errors.js';

/**
 * Settings of SPEC.md §2. Each has a flag (`--models`), an environment
 * variable (`YOLOSCALE_MODELS`) and a key in the optional config file; the
 * flag wins over the environment, which wins over the file, which wins over
 * the default.
 */
export const SettingsSchema = Type.Object(
  {
    models: Type.String({ minLength: 1 }),
    dataDir: Type.String({ minLength: 1 }),
    redisUrl: Type.Optional(Type.String({ minLength: 1 })),
    device: Type.Union([Type.Literal('auto'), Type.Literal('cuda'), Type.Literal('cpu')]),
    adminToken: Type.Optional(Type.String({ minLength: 8 })),
    scheduler: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    adminPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    workerPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    clientPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    workers: Type.Integer({ minimum: 0, maximum: 64 }),
    /** Where tenants buy tokens, shown in every `insufficient_tokens` refusal; `{tenant}` is replaced by the tenant id. */
    topupUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, pattern: '^https?://' })),
    /** ZeroMQ CURVE (SPEC §13): each is a 40-character Z85 key or a file holding one (`yoloscale keys curve`). */
    curveSecretKey: Type.Optional(Type.String({ minLength: 1 })),
    curvePublicKey: Type.Optional(Type.String({ minLength: 1 })),
    curveServerKey: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** Resolved, frozen settings. */
export type Settings = Readonly<Static<typeof SettingsSchema>>;

/** Name of each setting: camelCase key → SPEC's upper-case suffix of `YOLOSCALE_`. */
const ENV_NAMES: Readonly<Record<keyof Static<typeof SettingsSchema>, string>> = Object.freeze({
  models: 'MODELS',
  dataDir: 'DATA_DIR',
  redisUrl: 'REDIS_URL',
  device: 'DEVICE',
  adminToken: 'ADMIN_TOKEN',
  scheduler: 'SCHEDULER',
  port: 'PORT',
  adminPort: 'ADMIN_PORT',
  workerPort: 'WORKER_PORT',
  clientPort: 'CLIENT_PORT',
  workers: 'WORKERS',
  topupUrl: 'TOPUP_URL',
  curveSecretKey: 'CURVE_SECRET_KEY',
  curvePublicKey: 'CURVE_PUBLIC_KEY',
  curveServerKey: 'CURVE_SERVER_KEY',
});

const INTEGER_KEYS = new Set(['port', 'adminPort', 'workerPort', 'clientPort', 'workers']);

/** The flag spelling of a setting: `dataDir` → `data-dir`. */
export function settingFlag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** parseArgs option definitions for every setting flag plus `--config`. */
export const SETTING_FLAGS = Object.freeze(
  Object.fromEntries([
    ...Object.keys(ENV_NAMES).map((k) => [settingFlag(k), { type: 'string' as const }]),
    ['config', { type: 'string' as const }],
  ]),
) as Readonly<Record<string, { type: 'string' }>>;

function defaults(env: NodeJS.ProcessEnv): Record<string, unknown> {
  return {
    models: join(env.HOME ?? homedir(), '.cache', 'yoloscale', 'models'),
    dataDir: './.yoloscale',
    device: 'auto',
    scheduler: 'http://127.0.0.1:8081',
    port: 8080,
    adminPort: 8081,
    workerPort: 5555,
    clientPort: 5556,
    workers: 1,
  };
}

function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`config file ${path} must hold an object`);
  return doc as Record<string, unknown>;
}

const CURVE_KEYS = ['curveSecretKey', 'curvePublicKey', 'curveServerKey'] as const;

/** A CURVE key setting: the key itself, or the path of a file whose first line that is not a `#` comment is the key. */
function curveKey(value: string, key: (typeof CURVE_KEYS)[number]): string {
  const where = `--${settingFlag(key)} / YOLOSCALE_${ENV_NAMES[key]}`;
  if (isCurveKey(value)) return value;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw new UsageError(`invalid setting ${key} (${where}): neither a 40-character Z85 key nor a readable key file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#')) ?? '';
  if (!isCurveKey(line)) throw new UsageError(`invalid setting ${key} (${where}): key file ${value} does not hold a 40-character Z85 key`);
  return line;
}

/** CURVE options of the scheduler's sockets from the settings, or undefined when CURVE is off. */
export function curveServer(settings: Settings): { secretKey: string } | undefined {
  if (!settings.curveSecretKey) return undefined;
  return { secretKey: settings.curveSecretKey };
}

/**
 * CURVE options of a worker's or gateway's socket from the settings, or
 * undefined when no server key is set. Its own keypair is optional (a fresh
 * one otherwise) but both halves go together.
 */
export function curveClient(settings: Settings): { serverKey: string; publicKey?: string; secretKey?: string } | undefined {
  if (!settings.curveServerKey) {
    if (settings.curvePublicKey) throw new UsageError('--curve-public-key needs --curve-server-key (the scheduler\'s public key)');
    return undefined;
  }
  if (Boolean(settings.curvePublicKey) !== Boolean(settings.curveSecretKey)) throw new UsageError('--curve-public-key and --curve-secret-key go together (a keypair from `yoloscale keys curve`)');
  return settings.curvePublicKey && settings.curveSecretKey
    ? { serverKey: settings.curveServerKey, publicKey: settings.curvePublicKey, secretKey: settings.curveSecretKey }
    : { serverKey: settings.curveServerKey };
}

/**
 * Resolves the settings from flags (already parsed, keyed by flag name),
 * environment and optional config file; validates them against the schema
 * (unknown keys in the file are errors) and returns a frozen object.
 */
export function resolveSettings(flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): Settings {
  const merged: Record<string, unknown> = defaults(env);
  const configPath = (flags.config as string | undefined) ?? env.YOLOSCALE_CONFIG;
  if (configPath) {
    const file = loadConfigFile(configPath);
    for (const key of Object.keys(file)) {
      if (!(key in ENV_NAMES)) throw new UsageError(`config file ${configPath}: unknown key "${key}"`);
      merged[key] = file[key];
    }
  }
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const fromEnv = env[`YOLOSCALE_${envName}`];
    if (fromEnv !== undefined && fromEnv !== '') merged[key] = fromEnv;
    const fromFlag = flags[settingFlag(key)];
    if (fromFlag !== undefined) merged[key] = fromFlag;
    if (INTEGER_KEYS.has(key) && typeof merged[key] === 'string') {
      const n = Number(merged[key]);
      merged[key] = Number.isInteger(n) ? n : merged[key];
    }
  }
  if (!Value.Check(SettingsSchema, merged)) {
    const first = [...Value.Errors(SettingsSchema, merged)][0];
    const key = first ? first.path.replace(/^\//, '') : '?';
    throw new UsageError(`invalid setting ${key} (--${settingFlag(key)} / YOLOSCALE_${ENV_NAMES[key as keyof typeof ENV_NAMES] ?? key}): ${first?.message ?? 'invalid'}`);
  }
  for (const key of CURVE_KEYS) if (typeof merged[key] === 'string') merged[key] = curveKey(merged[key], key);
  merged.models = resolve(String(merged.models));
  merged.dataDir = resolve(String(merged.dataDir));
  return Object.freeze(merged) as Settings;
}
