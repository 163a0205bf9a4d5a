import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient } from './admin-client.js';
import type { CommandContext } from './context.js';
import { resolveSettings } from './settings.js';

/**
 * The admin client for a command: `--scheduler` / `YOLOSCALE_SCHEDULER` for
 * the URL, `--token` / `YOLOSCALE_ADMIN_TOKEN` for the token, falling back to
 * the token `yoloscale up` keeps in `DATA_DIR/admin-token` on this host.
 */
export function adminClientFor(ctx: CommandContext): AdminClient {
  const settings = resolveSettings({}, ctx.io.env);
  const baseUrl = ctx.global.scheduler ?? settings.scheduler;
  let token = ctx.global.token ?? settings.adminToken;
  if (!token) {
    try {
      token = readFileSync(join(settings.dataDir, 'admin-token'), 'utf8').trim() || undefined;
    } catch {
      token = undefined;
    }
  }
  return new AdminClient({ baseUrl, token });
}
