// `yoloscale up` with the `local` provider (issue #6 check, SPEC.md §9): a load
// beyond one worker launches a second within the planning interval; when the
// load falls, the extra worker is drained (no request fails) and retired after
// the idle timeout; a crashed worker is replaced; the operator's `nodes
// provision` and `nodes retire` report what the provider did; a killed scheduler
// leaves no orphan workers.
// Echo workers answer each batch after 100 ms with 2 slots: 20 frames/s each.
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Test } from 'tap';
import { PHOTO } from '../helpers/cluster.js';
import { startUp } from '../helpers/up.js';
import type { UpCluster } from '../helpers/up.js';
import { alive, until } from '../helpers/wait.js';

interface NodeRow {
  id: string;
  state: string;
  pid: number;
  framesDone: number;
}
interface PoolJson {
  provider: string;
  min: number;
  max: number;
  decisions: { kind: string; id?: string; count?: number; reason: string; at: string }[];
}

// Polls go straight to the admin API (a CLI process per poll is too heavy on 2 cores); the CLI is used for the operator's steps.
async function api<T>(c: UpCluster, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${c.adminPort}${path}`, { headers: { authorization: `Bearer ${c.info.adminToken}` } });
  return (await res.json()) as T;
}
const nodes = async (c: UpCluster) => (await api<{ nodes: NodeRow[] }>(c, '/v1/nodes')).nodes;
const pool = (c: UpCluster) => api<PoolJson>(c, '/v1/pool');
const ready = (ns: NodeRow[]) => ns.filter((n) => n.state === 'ready');

/** `clients` closed-loop REST clients until `stop()`; every status is counted. */
function load(c: UpCluster, clients: number): { stop(): Promise<Map<number, number>> } {
  const statuses = new Map<number, number>();
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const res = await fetch(`http://127.0.0.1:${c.port}/v1/detect?model=echo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.info.demoKey}`, 'content-type': 'image/jpeg' },
        body: PHOTO,
      }).catch(() => undefined);
      await res?.arrayBuffer();
      const code = res?.status ?? 0;
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}

t.test('up - the local provider follows the load', async (t: Test) => {
  t.setTimeout(240_000);
  const intervalS = 2;
  const c = await startUp(t, ['--echo', '--workers', '1', '--max-workers', '2', '--interval-s', String(intervalS), '--idle-timeout-s', '4', '--cooldown-s', '1'], {
    YOLOSCALE_ECHO_DELAY_MS: '100',
    YOLOSCALE_WORKER_SLOTS: '2',
  });
  t.equal(c.info.ready, true, 'the autoscaler launched the one warm worker');
  t.ok(c.info.demoKey, 'demo key');
  const p0 = JSON.parse((await c.cli(['pool', 'status', '--json'])).stdout) as PoolJson;
  t.match(p0, { provider: 'local', min: 1, max: 2 });
  t.ok(
    p0.decisions.some((d) => d.kind === 'launch' && /keep min 1 warm/.test(d.reason)),
    'the first worker came from the planner',
  );
  t.equal(ready(await nodes(c)).length, 1);

  // 1. Overload one worker: a second is launched within the planning interval and takes load.
  const heavy = load(c, 24);
  const loadStart = Date.now();
  await until(async () => (await pool(c)).decisions.some((d) => d.kind === 'launch' && Date.parse(d.at) >= loadStart - 1000), 30_000);
  const launch = (await pool(c)).decisions.find((d) => d.kind === 'launch' && Date.parse(d.at) >= loadStart - 1000);
  t.ok(launch, 'a launch was decided under load');
  t.match(launch?.reason, /utilisation|queue|forecast|need/, `reason logged: ${launch?.reason}`);
  t.ok(Date.parse(launch?.at ?? '') - loadStart <= (2 * intervalS + 2) * 1000, 'within the planning interval (plus one sample window)');
  await until(async () => ready(await nodes(c)).length === 2, 60_000);
  await until(async () => (await nodes(c)).every((n) => n.state !== 'ready' || n.framesDone > 0), 20_000);
  t.pass('two ready workers, both serving');

  // 2. The load falls to what one worker handles: the extra worker is drained and retired.
  const heavyStatuses = await heavy.stop();
  const light = load(c, 1);
  await until(async () => (await pool(c)).decisions.some((d) => d.kind === 'retire' && d.id !== undefined), 60_000);
  const decisions = (await pool(c)).decisions;
  const retired = decisions.find((d) => d.kind === 'retire');
  const drained = decisions.find((d) => d.kind === 'drain' && d.id === retired?.id);
  t.ok(drained, `drained before retire: ${drained?.reason}`);
  t.ok(Date.parse(drained?.at ?? '') <= Date.parse(retired?.at ?? ''), 'drain precedes retire');
  t.match(drained?.reason, /surplus for 4s/, 'after the idle timeout');
  const lightStatuses = await light.stop();
  t.same([...heavyStatuses.keys()], [200], `every request under load answered 200 (${JSON.stringify([...heavyStatuses])})`);
  t.same([...lightStatuses.keys()], [200], 'no request failed while a worker drained');
  const after = await nodes(c);
  t.equal(ready(after).length, 1, 'back to min');
  const gone = after.find((n) => n.id === retired?.id);
  if (gone) await until(() => !alive(gone.pid), 15_000);
  t.pass('the retired worker process exited');

  // 3. A crashed worker is replaced (min 1 warm).
  const victim = ready(await nodes(c))[0];
  process.kill(victim.pid, 'SIGKILL');
  await until(async () => ready(await nodes(c)).some((n) => n.id !== victim.id), 40_000);
  t.pass(`a replacement for ${victim.id} is ready`);

  // 4. The operator provisions and retires through the provider, and is told what it did.
  const prov = await c.cli(['nodes', 'provision', '--type', 'local', '--count', '1', '--json']);
  t.equal(prov.code, 0, prov.stderr);
  const provisioned = JSON.parse(prov.stdout) as { requestId: string; ids: string[] };
  t.equal(provisioned.ids.length, 1, 'one node launched');
  const id = provisioned.ids[0];
  await until(async () => (await nodes(c)).some((n) => n.id === id && n.state === 'ready'), 40_000);
  const ret = await c.cli(['nodes', 'retire', id]);
  t.equal(ret.code, 0, ret.stderr);
  t.match(ret.stdout, new RegExp(`${id}: retired; provider local terminated it \\(request retire-${id}\\)`));
  const tooMany = await c.cli(['nodes', 'provision', '--type', 'local', '--count', '5']);
  t.equal(tooMany.code, 1);
  t.match(tooMany.stderr, /pool max is 2/);

  // 5. A scheduler killed outright leaves no orphan workers: they notice and stop by themselves.
  await until(async () => ready(await nodes(c)).length > 0, 40_000);
  const workerPids = (await nodes(c)).filter((n) => n.state !== 'retired' && n.state !== 'failed' && alive(n.pid)).map((n) => n.pid);
  const schedulerPid = Number(readFileSync(`/proc/${workerPids[0]}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  process.kill(schedulerPid, 'SIGKILL');
  await until(() => workerPids.every((pid) => !alive(pid)), 30_000);
  t.pass('the workers of a killed scheduler exited');
});
