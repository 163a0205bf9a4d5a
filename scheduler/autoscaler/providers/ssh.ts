import type { Logger } from '../../../protocol/index.js';
import { HostPoolProvider, ProviderFailure } from './host-pool.js';
import { fillCommand } from './inventory.js';
import type { InventoryHost } from './inventory.js';
import { sshExec } from './ssh-exec.js';
import type { SshResult } from './ssh-exec.js';

/**
 * The `ssh` provider (SPEC.md §9): hosts from an inventory file, each
 * running one worker started and stopped over SSH with the host's start and
 * stop commands (system `ssh`, BatchMode, key file, ConnectTimeout).
 */

/** Options of {@link SshProvider}. */
export interface SshProviderOptions {
  hosts: readonly InventoryHost[];
  /** Seconds from launch to a ready worker (default 20). */
  leadTimeS?: number;
  /** Attempts per start/stop (default 3), retry back-off base (default 2,000 ms), quarantine of failed hosts (default 300,000 ms). */
  attempts?: number;
  retryDelayMs?: number;
  quarantineMs?: number;
  /** Deadline of one remote command (default connect timeout + 30 s). */
  commandTimeoutMs?: number;
  /** The ssh binary (default `ssh`). */
  sshPath?: string;
  logger?: Logger;
}

/** Maps a finished ssh run to a failure (or undefined when it succeeded). */
export function sshFailure(host: InventoryHost, what: string, r: SshResult): ProviderFailure | undefined {
  if (r.code === 0) return undefined;
  const detail = r.stderr.trim().split('\n').at(-1) ?? '';
  if (r.timedOut) return new ProviderFailure('ssh_timeout', `${what} on ${host.address}:${host.port} timed out`);
  if (r.code === 255) return new ProviderFailure('ssh_unreachable', `ssh to ${host.address}:${host.port} failed${detail ? `: ${detail}` : ''}`);
  return new ProviderFailure(`${what}_failed`, `${what} exited with ${r.code}${detail ? `: ${detail}` : ''}`);
}

/** Runs a host's start or stop command over SSH; throws {@link ProviderFailure}. */
export async function runHostCommand(
  host: InventoryHost,
  which: 'start' | 'stop',
  opts: { timeoutMs?: number; sshPath?: string; signal?: AbortSignal },
): Promise<void> {
  const template = which === 'start' ? host.startCommand : host.stopCommand;
  const cmd = fillCommand(template, { id: host.name, type: host.type, host: host.address });
  const r = await sshExec(host, cmd, opts);
  const f = sshFailure(host, which, r);
  if (f) throw f;
}

/** Node provider starting workers over SSH on inventory hosts. */
export class SshProvider extends HostPoolProvider {
  constructor(o: SshProviderOptions) {
    const exec = { timeoutMs: o.commandTimeoutMs, sshPath: o.sshPath };
    super({
      name: 'ssh',
      hosts: o.hosts,
      leadTimeS: o.leadTimeS ?? 20,
      attempts: o.attempts,
      retryDelayMs: o.retryDelayMs,
      quarantineMs: o.quarantineMs,
      logger: o.logger,
      driver: {
        up: (host, signal) => runHostCommand(host, 'start', { ...exec, signal }),
        down: (host) => runHostCommand(host, 'stop', exec),
      },
    });
  }
}
