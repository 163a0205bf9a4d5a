import { completionCommand } from '../completion.js';
import type { CommandSpec } from '../context.js';
import { benchCommand } from './bench.js';
import { detectCommand } from './detect.js';
import { evalCommand } from './eval.js';
import { keysCommand } from './keys.js';
import { modelsCommand } from './models.js';
import { nodesCommand } from './nodes.js';
import { poolCommand, queueCommand } from './pool.js';
import { gatewayCommand, schedulerCommand, workerCommand } from './processes.js';
import { plansCommand, tenantsCommand, usageCommand } from './tenants.js';
import { setupCudaCommand } from './setup-cuda.js';
import { simCommand } from './sim.js';
import { topCommand } from './top.js';
import { upCommand } from './up.js';

/**
 * Every top-level command, in the order `yoloscale --help` lists them.
 * Add a command by importing its spec and adding it to this list.
 */
export const COMMANDS: readonly CommandSpec[] = Object.freeze([
  upCommand,
  schedulerCommand,
  gatewayCommand,
  workerCommand,
  detectCommand,
  evalCommand,
  modelsCommand,
  nodesCommand,
  poolCommand,
  tenantsCommand,
  plansCommand,
  usageCommand,
  queueCommand,
  topCommand,
  simCommand,
  benchCommand,
  setupCudaCommand,
  keysCommand,
  completionCommand(() => COMMANDS),
]);
