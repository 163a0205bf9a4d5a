import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from './settings.js';

/**
 * The admin token of SPEC §2: `YOLOSCALE_ADMIN_TOKEN` when set, else the one
 * kept in `DATA_DIR/admin-token`, generated (and written with mode 0600) on
 * first start.
 */
export function ensureAdminToken(settings: Settings): string {
  if (settings.adminToken) return settings.adminToken;
  const file = join(settings.dataDir, 'admin-token');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 8) return kept;
  } catch {
    // first start: generate below
  }
  mkdirSync(settings.dataDir, { recursive: true });
  const token = `ysa_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
