import type { Logger } from '../../../protocol/index.js';
import type { NodeProvider } from '../types.js';
import { CommandProvider } from './command.js';
import type { CommandProviderOptions } from './command.js';
import { loadInventory } from './inventory.js';
import { LocalProvider } from './local.js';
import type { LocalProviderOptions } from './local.js';
import { RedfishProvider } from './redfish.js';
import type { RedfishProviderOptions } from './redfish.js';
import { SshProvider } from './ssh.js';
import type { SshProviderOptions } from './ssh.js';

/** Which provider to build, with its options; `inventory` is a path for `ssh` and `redfish`. */
export type ProviderConfig =
  | ({ kind: 'local' } & LocalProviderOptions)
  | ({ kind: 'ssh'; inventory: string } & Omit<SshProviderOptions, 'hosts'>)
  | ({ kind: 'redfish'; inventory: string } & Omit<RedfishProviderOptions, 'hosts'>)
  | ({ kind: 'command' } & CommandProviderOptions);

/** Builds a node provider from its config (inventory files are read and validated here). */
export function createProvider(config: ProviderConfig, logger?: Logger): NodeProvider {
  switch (config.kind) {
    case 'local':
      return new LocalProvider({ logger, ...config });
    case 'ssh':
      return new SshProvider({ logger, ...config, hosts: loadInventory(config.inventory) });
    case 'redfish':
      return new RedfishProvider({ logger, ...config, hosts: loadInventory(config.inventory) });
    case 'command':
      return new CommandProvider({ logger, ...config });
    default:
      throw new RangeError(`unknown provider kind "${(config as { kind: unknown }).kind}" (local, ssh, redfish, command)`);
  }
}
