import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { running, until } from '../helpers/wait.js';
import { RedfishProvider } from '../../scheduler/autoscaler/index.js';
import type { InventoryHost } from '../../scheduler/autoscaler/index.js';
import { sshdUnavailable, startSilentListener, startSshd } from './helpers/sshd.js';

/**
 * A protocol-level fake BMC: Redfish `GET /redfish/v1/Systems/{id}` and
 * `POST …/Actions/ComputerSystem.Reset` with basic auth, power transitions
 * that take `transitionMs`, and per-system misbehaviour.
 */
interface FakeSystem {
  power: 'On' | 'Off' | 'PoweringOn' | 'PoweringOff';
  /** Refuse power-on with a Redfish error. */
  refuseOn?: boolean;
  /** Ignore GracefulShutdown (a hung OS). */
  ignoreGraceful?: boolean;
  resets: string[];
}

async function startBmc(systems: Record<string, FakeSystem>, transitionMs = 150) {
  const auth = `Basic ${Buffer.from('admin:hunter22').toString('base64')}`;
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void) => {
    const h = setTimeout(() => {
      timers.delete(h);
      fn();
    }, transitionMs);
    timers.add(h);
  };
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const redfishError = (message: string) => ({
    error: { code: 'Base.1.8.GeneralError', message: 'A general error has occurred.', '@Message.ExtendedInfo': [{ MessageId: 'Base.1.8.GeneralError', Message: message }] },
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== auth) return send(res, 401, redfishError('Invalid credentials'));
      const m = /^\/redfish\/v1\/Systems\/([^/]+)(\/Actions\/ComputerSystem\.Reset)?$/.exec(req.url ?? '');
      const sys = m ? systems[decodeURIComponent(m[1])] : undefined;
      if (!m || !sys) return send(res, 404, redfishError('No such resource'));
      if (!m[2]) {
        if (req.method !== 'GET') return send(res, 405);
        return send(res, 200, { '@odata.id': req.url, Id: m[1], PowerState: sys.power });
      }
      if (req.method !== 'POST') return send(res, 405);
      let type: unknown;
      try {
        type = (JSON.parse(body) as { ResetType?: unknown }).ResetType;
      } catch {
        return send(res, 400, redfishError('Malformed JSON'));
      }
      sys.resets.push(String(type));
      if (type === 'On') {
        if (sys.refuseOn) return send(res, 409, redfishError('Power on denied: chassis intrusion detected'));
        if (sys.power === 'Off') {
          sys.power = 'PoweringOn';
          later(() => (sys.power = 'On'));
        }
        return send(res, 204);
      }
      if (type === 'GracefulShutdown') {
        if (!sys.ignoreGraceful && sys.power === 'On') {
          sys.power = 'PoweringOff';
          later(() => (sys.power = 'Off'));
        }
        return send(res, 204);
      }
      if (type === 'ForceOff') {
        sys.power = 'Off';
        return send(res, 204);
      }
      return send(res, 400, redfishError(`Unsupported ResetType ${String(type)}`));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const h of timers) clearTimeout(h);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function sys(over: Partial<FakeSystem> = {}): FakeSystem {
  return { power: 'Off', resets: [], ...over };
}

const skip = sshdUnavailable();

t.test('redfish provider - powers on through the BMC, bootstraps over SSH, shuts down gracefully', { skip }, async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.close());
  const systems = { '1': sys(), '2': sys({ ignoreGraceful: true }) };
  const bmc = await startBmc(systems);
  t.teardown(() => bmc.close());
  const host = (name: string, id: string): InventoryHost => ({ ...sshd.host(name), bmc: { url: bmc.url, systemId: id, username: 'admin', password: 'hunter22' } });
  const provider = new RedfishProvider({ hosts: [host('metal-1', '1'), host('metal-2', '2')], pollMs: 30, powerTimeoutMs: 2000, bootTimeoutMs: 5000, retryDelayMs: 50 });
  t.teardown(() => provider.close());

  const ids = await provider.launch('cpu', 2, 'boot-1');
  t.same(ids, ['metal-1', 'metal-2']);
  t.same(await provider.launch('cpu', 2, 'boot-1'), ids, 'idempotent per request id');
  await until(async () => (await provider.list()).every((i) => i.status === 'running'), 20_000);
  t.same(systems['1'].resets, ['On'], 'one power-on for the repeated request');
  t.equal(systems['1'].power, 'On');
  const pid = Number(readFileSync(join(sshd.dir, 'metal-1.pid'), 'utf8'));
  t.ok(running(pid), 'the worker was started over SSH after power-on');

  await provider.terminate(ids, 'down-1');
  t.notOk(running(pid), 'the worker was stopped over SSH');
  t.same(systems['1'].resets, ['On', 'GracefulShutdown']);
  t.equal(systems['1'].power, 'Off');
  t.same(systems['2'].resets, ['On', 'GracefulShutdown', 'ForceOff'], 'a host ignoring GracefulShutdown is forced off');
  t.equal(systems['2'].power, 'Off');
  t.ok((await provider.list()).every((i) => i.status === 'terminated'));
  t.same(provider.pollErrors(), []);
});

t.test('redfish provider - a BMC refusing power-on and a host that never answers SSH: errors, retries, nothing left powered', { skip }, async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.close());
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  const systems = { refuse: sys({ refuseOn: true }), mute: sys() };
  const bmc = await startBmc(systems, 50);
  t.teardown(() => bmc.close());
  const provider = new RedfishProvider({
    hosts: [
      { ...sshd.host('refusing'), bmc: { url: bmc.url, systemId: 'refuse', username: 'admin', password: 'hunter22' } },
      { ...sshd.host('mute', { port: silent.port, connectTimeoutS: 1 }), bmc: { url: bmc.url, systemId: 'mute', username: 'admin', password: 'hunter22' } },
    ],
    pollMs: 30,
    powerTimeoutMs: 2000,
    bootTimeoutMs: 1500,
    commandTimeoutMs: 3000,
    attempts: 2,
    retryDelayMs: 50,
  });
  t.teardown(() => provider.close());
  await provider.launch('cpu', 2, 'boot-2');
  await until(async () => (await provider.list()).every((i) => i.status === 'failed'), 40_000);
  const errors = provider.pollErrors();
  const refused = errors.filter((e) => e.id === 'refusing');
  t.equal(refused.length, 2, 'power-on refused on each of 2 attempts');
  t.ok(refused.every((e) => e.code === 'bmc_refused' && e.requestId === 'boot-2'));
  t.match(refused[0].message, /HTTP 409.*chassis intrusion/);
  t.equal(systems.refuse.power, 'Off', 'the refusing host stays off');
  const mute = errors.filter((e) => e.id === 'mute');
  t.equal(mute.length, 2, 'the silent host was retried');
  t.ok(mute.every((e) => e.code === 'ssh_unreachable' || e.code === 'ssh_timeout'));
  t.equal(systems.mute.power, 'Off', 'powered on, never bootstrapped, forced off again: not leaked');
  t.same(systems.mute.resets, ['On', 'ForceOff', 'On', 'ForceOff']);
  await provider.terminate(['refusing', 'mute'], 'cleanup');
  t.ok((await provider.list()).every((i) => i.status === 'terminated'));
});

t.test('redfish provider - wrong BMC credentials are an error, not a crash', async (t) => {
  const systems = { '1': sys() };
  const bmc = await startBmc(systems);
  t.teardown(() => bmc.close());
  const provider = new RedfishProvider({
    hosts: [{ name: 'm', address: '127.0.0.1', port: 1, user: undefined, identityFile: undefined, knownHostsFile: undefined, type: 'cpu', startCommand: 'true', stopCommand: 'true', connectTimeoutS: 1, bmc: { url: bmc.url, systemId: '1', username: 'admin', password: 'wrong' } }],
    attempts: 1,
  });
  t.teardown(() => provider.close());
  await provider.launch('cpu', 1, 'x');
  await until(async () => (await provider.list())[0].status === 'failed', 20_000);
  t.match(provider.pollErrors(), [{ code: 'bmc_error', message: /answered 401/ }]);
  t.same(systems['1'].resets, []);
  t.throws(() => new RedfishProvider({ hosts: [{ name: 'n', address: 'a', port: 22, user: undefined, identityFile: undefined, knownHostsFile: undefined, type: 'cpu', startCommand: 'x', stopCommand: 'y', connectTimeoutS: 1 }] }), /has no bmc entry/);
});
