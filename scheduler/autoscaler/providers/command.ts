import { spawn } from 'node:child_process';
import { silentLogger } from '../../../protocol/index.js';
import type { Logger } from '../../../protocol/index.js';
import type { InstanceStatus, NodeProvider, ProviderError, ProviderInstance } from '../types.js';
import { ErrorQueue, RequestMemo, badLaunch } from './support.js';

/**
 * The `command` provider (SPEC.md §9): operator scripts do the work (MAAS,
 * a cloud CLI, IPMI…). Each script is an argv; the provider appends
 * arguments and reads JSON from stdout:
 *
 * - launch: `ARGV --type T --count N --request-id R` → `{"ids":["…"]}` or `["…"]`
 * - terminate: `ARGV --request-id R ID…` → exit status 0
 * - list: `ARGV` → `[{"id","type","status","address"?}]` (status one of
 *   pending, running, terminating, terminated, failed)
 *
 * The request id is passed so scripts can stay idempotent across restarts;
 * within a process the provider answers a repeated id from memory. Non-zero
 * exits, timeouts and malformed output become errors returned as data.
 */

/** Options of {@link CommandProvider}. */
export interface CommandProviderOptions {
  launch: readonly string[];
  terminate: readonly string[];
  list: readonly string[];
  /** Seconds from launch to a ready worker (default 300). */
  leadTimeS?: number;
  /** Deadline of one script run (default 120,000 ms). */
  timeoutMs?: number;
  env?: Record<string, string>;
  logger?: Logger;
}

const STATUSES: readonly InstanceStatus[] = ['pending', 'running', 'terminating', 'terminated', 'failed'];

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function checkArgv(name: string, v: readonly string[]): void {
  if (!Array.isArray(v) || v.length === 0 || v.some((a) => typeof a !== 'string' || a === '')) {
    throw new RangeError(`options.${name} must be a non-empty array of strings`);
  }
}

/** Node provider delegating to operator scripts. */
export class CommandProvider implements NodeProvider {
  readonly name = 'command';
  readonly leadTimeS: number;
  readonly #o: CommandProviderOptions;
  readonly #timeoutMs: number;
  readonly #launches = new RequestMemo<string[]>();
  readonly #terminates = new RequestMemo<void>();
  readonly #errors = new ErrorQueue();
  /** Launch bookkeeping: which request created which id, and when. */
  readonly #origin = new Map<string, { requestId: string; launchedAtMs: number; type: string }>();
  readonly #log: Logger;

  constructor(o: CommandProviderOptions) {
    checkArgv('launch', o.launch);
    checkArgv('terminate', o.terminate);
    checkArgv('list', o.list);
    const t = o.timeoutMs ?? 120_000;
    if (!Number.isInteger(t) || t <= 0) throw new RangeError('options.timeoutMs must be a positive integer');
    this.#o = o;
    this.#timeoutMs = t;
    this.leadTimeS = o.leadTimeS ?? 300;
    this.#log = (o.logger ?? silentLogger).child({ provider: 'command' });
  }

  #run(argv: readonly string[], extra: string[]): Promise<RunResult> {
    return new Promise((resolve) => {
      const [cmd, ...args] = argv;
      // Own process group, so a timeout kills the script and whatever it started (a `sleep` holding stdout open).
      const child = spawn(cmd, [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.#o.env }, detached: true });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, this.#timeoutMs);
      let settled = false;
      const done = (code: number, err = ''): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ code, stdout, stderr: stderr + err, timedOut });
      };
      child.once('error', (e) => done(127, e.message));
      child.once('close', (code) => done(code ?? 1));
    });
  }

  #fail(op: 'launch' | 'terminate', requestId: string, what: string, r: RunResult, type?: string): void {
    const detail = r.stderr.trim().split('\n').at(-1) ?? '';
    this.#errors.push({
      requestId,
      op,
      code: r.timedOut ? 'command_timeout' : 'command_failed',
      message: r.timedOut ? `${what} script timed out after ${this.#timeoutMs} ms` : `${what} script exited with ${r.code}${detail ? `: ${detail}` : ''}`,
      type,
    });
  }

  launch(type: string, count: number, requestId: string): Promise<string[]> {
    return this.#launches.once(requestId, async () => {
      const bad = badLaunch(type, count, requestId);
      if (bad) {
        this.#errors.push({ requestId, op: 'launch', code: 'bad_request', message: bad, type });
        return [];
      }
      const r = await this.#run(this.#o.launch, ['--type', type, '--count', String(count), '--request-id', requestId]);
      if (r.code !== 0) {
        this.#fail('launch', requestId, 'launch', r, type);
        return [];
      }
      let ids: unknown;
      try {
        const doc = JSON.parse(r.stdout) as unknown;
        ids = Array.isArray(doc) ? doc : (doc as { ids?: unknown }).ids;
      } catch {
        ids = undefined;
      }
      if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string' || x === '')) {
        this.#errors.push({ requestId, op: 'launch', code: 'bad_output', message: 'launch script did not print {"ids":[…]} on stdout', type });
        return [];
      }
      const now = Date.now();
      for (const id of ids as string[]) this.#origin.set(id, { requestId, launchedAtMs: now, type });
      this.#log.info({ ids, type, requestId }, 'launched');
      return ids as string[];
    });
  }

  terminate(ids: string[], requestId: string): Promise<void> {
    return this.#terminates.once(requestId, async () => {
      if (ids.length === 0) return;
      const r = await this.#run(this.#o.terminate, ['--request-id', requestId, ...ids]);
      if (r.code !== 0) this.#fail('terminate', requestId, 'terminate', r);
    });
  }

  /** Runs the list script; on failure the error is queued and an empty list returned. */
  async list(): Promise<ProviderInstance[]> {
    const r = await this.#run(this.#o.list, []);
    if (r.code !== 0) {
      this.#fail('launch', 'list', 'list', r);
      return [];
    }
    let doc: unknown;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      doc = undefined;
    }
    if (!Array.isArray(doc)) {
      this.#errors.push({ requestId: 'list', op: 'launch', code: 'bad_output', message: 'list script did not print a JSON array' });
      return [];
    }
    const out: ProviderInstance[] = [];
    for (const raw of doc as unknown[]) {
      const e = raw as Partial<Record<'id' | 'type' | 'status' | 'address', unknown>>;
      if (typeof e?.id !== 'string' || typeof e.status !== 'string' || !STATUSES.includes(e.status as InstanceStatus)) {
        this.#errors.push({ requestId: 'list', op: 'launch', code: 'bad_output', message: `list script printed a bad entry: ${JSON.stringify(raw)}` });
        continue;
      }
      const origin = this.#origin.get(e.id);
      const inst: ProviderInstance = {
        id: e.id,
        type: typeof e.type === 'string' ? e.type : (origin?.type ?? 'default'),
        status: e.status as InstanceStatus,
        requestId: origin?.requestId ?? 'external',
        launchedAtMs: origin?.launchedAtMs ?? 0,
      };
      if (typeof e.address === 'string') inst.address = e.address;
      out.push(inst);
    }
    return out;
  }

  pollErrors(): ProviderError[] {
    return this.#errors.drain();
  }

  async close(): Promise<void> {}
}
