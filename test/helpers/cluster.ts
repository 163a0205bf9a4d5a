// Shared helpers of the cluster tests: admin views, a ready client, echo frames.
import { readFileSync } from 'node:fs';
import { SchedulerClient } from '../../protocol/index.js';
import type { DetectionResult, Lane } from '../../protocol/index.js';
import { image } from './env.js';
import { admin } from './processes.js';
import type { SchedulerProc, Teardown } from './processes.js';

/** A real photo used as the echo payload. */
export const PHOTO = readFileSync(image('dog.jpg'));

/** A node as `GET /v1/nodes` shows it (fields the tests read). */
export interface NodeJson {
  id: string;
  state: string;
  slots: number;
  inFlight: number;
  models: string[];
  framesDone: number;
}

/** Every node of the scheduler. */
export async function nodes(s: SchedulerProc): Promise<NodeJson[]> {
  return ((await admin(s.adminUrl, 'GET', '/v1/nodes')).body as { nodes: NodeJson[] }).nodes;
}

/** One node of the scheduler. */
export async function node(s: SchedulerProc, id: string): Promise<NodeJson | undefined> {
  return (await nodes(s)).find((n) => n.id === id);
}

/** A connected client that saw at least one ready worker. */
export async function client(t: Teardown, s: SchedulerProc): Promise<SchedulerClient> {
  const c = new SchedulerClient({ endpoint: s.clientEndpoint });
  t.teardown(() => c.close());
  c.connect();
  await c.waitReady(15_000);
  return c;
}

let frameNo = 0;

/** Submits the photo to the echo model. */
export function submit(c: SchedulerClient, opts: { deadlineMs?: number; lane?: Lane; tenant?: string } = {}): Promise<DetectionResult> {
  return c.submit({
    image: PHOTO,
    model: 'echo',
    params: {},
    tenant: opts.tenant ?? 'acme',
    weight: 3600,
    cost: 1,
    lane: opts.lane ?? 'standard',
    deadlineMs: Date.now() + (opts.deadlineMs ?? 10_000),
    frameId: `f${++frameNo}`,
  });
}
