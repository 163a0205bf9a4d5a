/** Route plugin: `/v1/nodes…` and `/v1/queue` of the admin API (SPEC.md §6). */
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import type { NodeAction, NodeView } from '../registry.js';
import type { QueueView } from '../scheduler.js';
import { ErrorBody, NodeActionParams, NodeListSchema, NodeParams, NodeSchema, QueueSchema, RetiredNodeSchema } from './schemas.js';
import type { Static } from '@sinclair/typebox';
import type { ProviderReport } from './schemas.js';

/** What the node routes need from the scheduler. */
export interface NodesAdmin {
  nodes(): NodeView[] | Promise<NodeView[]>;
  node(id: string): NodeView | undefined | Promise<NodeView | undefined>;
  /** Applies an admin action; throws (or rejects with) `not_found` / `conflict` YoloscaleErrors. */
  act(id: string, action: NodeAction): NodeView | Promise<NodeView>;
  queue(): QueueView | Promise<QueueView>;
}

/** Options of {@link nodesRoutes}. */
export interface NodesRoutesOptions {
  admin: NodesAdmin;
  /** After an operator's retire: has the node provider terminate the node's machine or process, and reports what it did. */
  onRetire?: (id: string) => Promise<Static<typeof ProviderReport>>;
}

/** Registers `GET /v1/nodes`, `GET /v1/nodes/:id`, `POST /v1/nodes/:id/(cordon|uncordon|drain|retire)`, `GET /v1/queue`. */
export const nodesRoutes: FastifyPluginAsync<NodesRoutesOptions> = async (app, opts) => {
  const { admin } = opts;
  app.get('/v1/nodes', { schema: { response: { 200: NodeListSchema } } }, async () => ({ nodes: await admin.nodes() }));
  app.get<{ Params: { id: string } }>('/v1/nodes/:id', { schema: { params: NodeParams, response: { 200: NodeSchema, 404: ErrorBody } } }, async (req) => {
    const node = await admin.node(req.params.id);
    if (!node) throw new YoloscaleError(ErrorCode.notFound, `no node "${req.params.id}"`);
    return node;
  });
  app.post<{ Params: { id: string; action: NodeAction } }>(
    '/v1/nodes/:id/:action',
    { schema: { params: NodeActionParams, response: { 200: RetiredNodeSchema, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => {
      const node = await admin.act(req.params.id, req.params.action);
      if (req.params.action !== 'retire' || !opts.onRetire) return node;
      return { ...node, provider: await opts.onRetire(req.params.id) };
    },
  );
  app.get('/v1/queue', { schema: { response: { 200: QueueSchema } } }, async () => admin.queue());
};
