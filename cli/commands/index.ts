import type { CommandSpec } from '../context.js';

/**
 * Every top-level command, in the order `yoloscale --help` lists them.
 * Add a command by importing its spec and adding it to this list.
 */
export const COMMANDS: readonly CommandSpec[] = Object.freeze([]);
