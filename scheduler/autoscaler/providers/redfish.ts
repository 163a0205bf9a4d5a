import type { Logger } from '../../../protocol/index.js';
import { HostPoolProvider, ProviderFailure } from './host-pool.js';
import type { InventoryHost } from './inventory.js';
import { sshExec } from './ssh-exec.js';
import { runHostCommand, sshFailure } from './ssh.js';
import { sleep } from './support.js';

/**
 * The `redfish` provider (SPEC.md §9): powers inventory hosts on and off
 * through their BMC (`POST /redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset`
 * with `ResetType` `On`, `GracefulShutdown`, `ForceOff`), polls
 * `GET /redfish/v1/Systems/{id}` until `PowerState` changes, then bootstraps
 * the worker over SSH once the host answers. A host that came up only half
 * way is forced off again, so nothing is left powered.
 */

/** Options of {@link RedfishProvider}. */
export interface RedfishProviderOptions {
  /** Inventory hosts; each needs a `bmc` entry. */
  hosts: readonly InventoryHost[];
  /** Seconds from power-on to a ready worker (default 180). */
  leadTimeS?: number;
  /** Power-state polling interval (default 2,000 ms). */
  pollMs?: number;
  /** Deadline for the power state to change (default 120,000 ms). */
  powerTimeoutMs?: number;
  /** Deadline for SSH to answer after power-on (default 300,000 ms). */
  bootTimeoutMs?: number;
  /** Deadline of one BMC request (default 10,000 ms). */
  requestTimeoutMs?: number;
  attempts?: number;
  retryDelayMs?: number;
  quarantineMs?: number;
  /** Deadline of one remote command (default connect timeout + 30 s). */
  commandTimeoutMs?: number;
  sshPath?: string;
  logger?: Logger;
}

/** Redfish `PowerState` values. */
type PowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff' | 'Paused';

/** A small Redfish client for one system. */
export class RedfishSystem {
  readonly #base: string;
  readonly #auth: string | undefined;
  readonly #timeoutMs: number;

  constructor(bmc: NonNullable<InventoryHost['bmc']>, timeoutMs = 10_000) {
    this.#base = `${bmc.url}/redfish/v1/Systems/${encodeURIComponent(bmc.systemId)}`;
    this.#auth = bmc.username !== undefined ? `Basic ${Buffer.from(`${bmc.username}:${bmc.password ?? ''}`).toString('base64')}` : undefined;
    this.#timeoutMs = timeoutMs;
  }

  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#auth) headers.authorization = this.#auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new ProviderFailure('bmc_unreachable', `BMC ${this.#base} unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** Current `PowerState`. */
  async powerState(): Promise<PowerState> {
    const r = await this.#request('GET', '');
    const state = (r.json as { PowerState?: unknown } | undefined)?.PowerState;
    if (r.status !== 200 || typeof state !== 'string') {
      throw new ProviderFailure('bmc_error', `GET ${this.#base} answered ${r.status} without a PowerState`);
    }
    return state as PowerState;
  }

  /** Requests a reset of `type`; a refusal is a `bmc_refused` failure carrying the BMC's message. */
  async reset(type: 'On' | 'GracefulShutdown' | 'ForceOff'): Promise<void> {
    const r = await this.#request('POST', '/Actions/ComputerSystem.Reset', { ResetType: type });
    if (r.status >= 200 && r.status < 300) return;
    const ext = (r.json as { error?: { message?: string; '@Message.ExtendedInfo'?: { Message?: string }[] } } | undefined)?.error;
    const msg = ext?.['@Message.ExtendedInfo']?.[0]?.Message ?? ext?.message ?? r.text.slice(0, 200);
    throw new ProviderFailure('bmc_refused', `BMC refused ${type} (HTTP ${r.status})${msg ? `: ${msg}` : ''}`);
  }

  /** Polls until `PowerState` is `want`; a `bmc_timeout` failure after `timeoutMs`. */
  async waitFor(want: 'On' | 'Off', timeoutMs: number, pollMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw new ProviderFailure('aborted', 'aborted');
      if ((await this.powerState()) === want) return;
      if (Date.now() >= deadline) throw new ProviderFailure('bmc_timeout', `PowerState did not become ${want} within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }
}

/** Node provider powering bare-metal hosts through Redfish BMCs, then starting workers over SSH. */
export class RedfishProvider extends HostPoolProvider {
  constructor(o: RedfishProviderOptions) {
    const missing = o.hosts.find((h) => !h.bmc);
    if (missing) throw new RangeError(`options.hosts: host "${missing.name}" has no bmc entry`);
    const pollMs = o.pollMs ?? 2000;
    const powerTimeoutMs = o.powerTimeoutMs ?? 120_000;
    const bootTimeoutMs = o.bootTimeoutMs ?? 300_000;
    const exec = { timeoutMs: o.commandTimeoutMs, sshPath: o.sshPath };
    const bmcOf = (h: InventoryHost): RedfishSystem => new RedfishSystem(h.bmc as NonNullable<InventoryHost['bmc']>, o.requestTimeoutMs);

    const waitForSsh = async (host: InventoryHost, signal: AbortSignal): Promise<void> => {
      const deadline = Date.now() + bootTimeoutMs;
      for (;;) {
        const r = await sshExec(host, 'true', { ...exec, signal });
        if (r.code === 0) return;
        if (signal.aborted) throw new ProviderFailure('aborted', 'aborted');
        if (Date.now() >= deadline) {
          throw sshFailure(host, 'boot', r) ?? new ProviderFailure('ssh_unreachable', `${host.address} never answered SSH`);
        }
        await sleep(pollMs);
      }
    };

    super({
      name: 'redfish',
      hosts: o.hosts,
      leadTimeS: o.leadTimeS ?? 180,
      attempts: o.attempts,
      retryDelayMs: o.retryDelayMs,
      quarantineMs: o.quarantineMs,
      logger: o.logger,
      driver: {
        up: async (host, signal) => {
          const bmc = bmcOf(host);
          if ((await bmc.powerState()) !== 'On') {
            await bmc.reset('On');
            await bmc.waitFor('On', powerTimeoutMs, pollMs, signal);
          }
          try {
            await waitForSsh(host, signal);
            await runHostCommand(host, 'start', { ...exec, signal });
          } catch (err) {
            // Powered on but never bootstrapped: power it off again rather than leak it.
            await bmc.reset('ForceOff').catch(() => undefined);
            throw err;
          }
        },
        down: async (host) => {
          const bmc = bmcOf(host);
          if ((await bmc.powerState()) === 'Off') return;
          await runHostCommand(host, 'stop', exec).catch(() => undefined); // best effort: the power-off follows
          try {
            await bmc.reset('GracefulShutdown');
            await bmc.waitFor('Off', powerTimeoutMs, pollMs);
          } catch (err) {
            if (!(err instanceof ProviderFailure)) throw err;
            await bmc.reset('ForceOff');
            await bmc.waitFor('Off', powerTimeoutMs, pollMs);
          }
        },
      },
    });
  }
}
