// Public surface of scheduler/admin/: the admin HTTP app and its route plugins.
export { buildAdminApp } from './app.js';
export type { AdminAppOptions, AdminPlugin } from './app.js';
export { AuthFailureLimiter, bearerToken, tokenMatches } from './auth.js';
export { nodesRoutes } from './nodes-routes.js';
export type { NodesAdmin, NodesRoutesOptions } from './nodes-routes.js';
export { tenantRoutes } from './tenants.js';
export type { TenantRoutesOptions } from './tenants.js';
