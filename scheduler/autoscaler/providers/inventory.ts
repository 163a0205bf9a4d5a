import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, YoloscaleError } from '../../../protocol/index.js';

/**
 * Bare-metal inventory of the `ssh` and `redfish` providers (YAML or JSON;
 * example in `deploy/inventory.example.yaml`). Validated with a schema;
 * unknown keys are errors. Commands may use the placeholders `{id}` (node id
 * the worker registers under), `{type}` and `{host}`.
 */

const Bmc = Type.Object(
  {
    /** Base URL of the BMC, e.g. `https://10.0.1.11`. */
    url: Type.String({ minLength: 1 }),
    /** Redfish system id (`/redfish/v1/Systems/{systemId}`). */
    systemId: Type.String({ minLength: 1 }),
    username: Type.Optional(Type.String()),
    /** Password in clear (prefer `passwordEnv`). */
    password: Type.Optional(Type.String()),
    /** Environment variable holding the password. */
    passwordEnv: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const HostFields = {
  /** SSH port (default 22). */
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  user: Type.Optional(Type.String({ minLength: 1 })),
  identityFile: Type.Optional(Type.String({ minLength: 1 })),
  /** known_hosts file used with `StrictHostKeyChecking=accept-new`. */
  knownHostsFile: Type.Optional(Type.String({ minLength: 1 })),
  type: Type.Optional(Type.String({ minLength: 1 })),
  /** Shell command that starts the worker in the background. */
  startCommand: Type.Optional(Type.String({ minLength: 1 })),
  /** Shell command that stops the worker (it drains first). */
  stopCommand: Type.Optional(Type.String({ minLength: 1 })),
  connectTimeoutS: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })),
};

const Host = Type.Object(
  {
    /** Unique host name (also the default node id). */
    name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
    /** Address SSH connects to. */
    address: Type.String({ minLength: 1 }),
    ...HostFields,
    bmc: Type.Optional(Bmc),
  },
  { additionalProperties: false },
);

/** Schema of an inventory file. */
export const InventorySchema = Type.Object(
  {
    defaults: Type.Optional(Type.Object(HostFields, { additionalProperties: false })),
    hosts: Type.Array(Host, { minItems: 1 }),
  },
  { additionalProperties: false },
);

/** A validated inventory file. */
export type Inventory = Static<typeof InventorySchema>;

/** One host with defaults applied. */
export interface InventoryHost {
  name: string;
  address: string;
  port: number;
  user: string | undefined;
  identityFile: string | undefined;
  knownHostsFile: string | undefined;
  type: string;
  startCommand: string;
  stopCommand: string;
  connectTimeoutS: number;
  bmc?: { url: string; systemId: string; username?: string; password?: string };
}

/** Default worker start command: a background worker under the node's id, its pid kept for stop. */
export const DEFAULT_START_COMMAND =
  'YOLOSCALE_NODE_ID={id} YOLOSCALE_NODE_TYPE={type} nohup yoloscale worker --node-id {id} > /tmp/yoloscale-worker.log 2>&1 < /dev/null & echo $! > /tmp/yoloscale-worker.pid';
/** Default worker stop command: SIGTERM (the worker drains and exits). */
export const DEFAULT_STOP_COMMAND = 'test -f /tmp/yoloscale-worker.pid && kill $(cat /tmp/yoloscale-worker.pid); rm -f /tmp/yoloscale-worker.pid; true';

/** Validates a parsed inventory document and applies defaults; errors are `bad_request` naming the field. */
export function parseInventory(doc: unknown, env: NodeJS.ProcessEnv = process.env): InventoryHost[] {
  if (!Value.Check(InventorySchema, doc)) {
    const first = Value.Errors(InventorySchema, doc).First();
    const where = first?.path || '/';
    throw new YoloscaleError(ErrorCode.badRequest, `inventory ${where}: ${first?.message ?? 'invalid'}`);
  }
  const d = doc.defaults ?? {};
  const seen = new Set<string>();
  return doc.hosts.map((h) => {
    if (seen.has(h.name)) throw new YoloscaleError(ErrorCode.badRequest, `inventory: duplicate host name "${h.name}"`);
    seen.add(h.name);
    const host: InventoryHost = {
      name: h.name,
      address: h.address,
      port: h.port ?? d.port ?? 22,
      user: h.user ?? d.user,
      identityFile: h.identityFile ?? d.identityFile,
      knownHostsFile: h.knownHostsFile ?? d.knownHostsFile,
      type: h.type ?? d.type ?? 'default',
      startCommand: h.startCommand ?? d.startCommand ?? DEFAULT_START_COMMAND,
      stopCommand: h.stopCommand ?? d.stopCommand ?? DEFAULT_STOP_COMMAND,
      connectTimeoutS: h.connectTimeoutS ?? d.connectTimeoutS ?? 5,
    };
    if (h.bmc) {
      const password = h.bmc.password ?? (h.bmc.passwordEnv ? env[h.bmc.passwordEnv] : undefined);
      host.bmc = { url: h.bmc.url.replace(/\/+$/, ''), systemId: h.bmc.systemId };
      if (h.bmc.username !== undefined) host.bmc.username = h.bmc.username;
      if (password !== undefined) host.bmc.password = password;
    }
    return host;
  });
}

/** Reads and validates an inventory file (`.yaml`, `.yml` or `.json`). */
export function loadInventory(path: string, env: NodeJS.ProcessEnv = process.env): InventoryHost[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new YoloscaleError(ErrorCode.badRequest, `cannot read inventory ${path}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new YoloscaleError(ErrorCode.badRequest, `inventory ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}`, { cause: err });
  }
  return parseInventory(doc, env);
}

/** Fills `{id}`, `{type}` and `{host}` in a command, shell-quoting the values. */
export function fillCommand(template: string, vars: { id: string; type: string; host: string }): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return template.replace(/\{(id|type|host)\}/g, (_, k: 'id' | 'type' | 'host') => q(vars[k]));
}
