// The Python side of the comparisons against reference implementations (preprocess, eval-crosscheck).
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from bench/ through tsx or compiled in dist/bench/. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), import.meta.url.includes('/dist/') ? '../..' : '..');

/**
 * The Python interpreter the comparison scripts run under: `explicit`, else
 * `YOLOSCALE_PYTHON`, else the first of /usr/bin/python3 and python3 that
 * imports cv2 and numpy (Debian's python3-opencv).
 */
export function findPython(explicit: string | undefined): string {
  const candidates = explicit ? [explicit] : [process.env.YOLOSCALE_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import cv2, numpy'], { stdio: 'ignore' });
    if (r.status === 0) return c;
  }
  throw new Error(`no Python with cv2 found (tried ${candidates.join(', ')}); install python3-opencv or set YOLOSCALE_PYTHON`);
}
