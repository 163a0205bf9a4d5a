/**
 * The web page at `/` (SPEC.md §5): a few static files from `gateway/web/`,
 * read once at start-up and served from memory.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
});

/**
 * The folder of the page's files: `web/` beside this module's folder when it
 * exists (source checkout), else the source folder seen from `dist/gateway/`.
 */
export function defaultWebDir(): string {
  const here = dirname(dirname(fileURLToPath(import.meta.url)));
  const beside = join(here, 'web');
  if (existsSync(join(beside, 'index.html'))) return beside;
  return resolve(here, '..', '..', 'gateway', 'web');
}

/** Route plugin serving the page's files (`/` is `index.html`). */
export function webRoutes(webDir: string) {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(webDir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { type, body: readFileSync(join(webDir, name)) });
  }
  if (!files.has('index.html')) throw new Error(`web page missing: ${join(webDir, 'index.html')}`);

  return async function plugin(app: FastifyInstance): Promise<void> {
    const send = (name: string, reply: FastifyReply) => {
      const f = files.get(name)!;
      return reply
        .type(f.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:")
        .send(f.body);
    };
    const schema = { hide: true, response: { 200: { description: 'static file', type: 'string' } } };
    app.get('/', { schema }, async (_req, reply) => send('index.html', reply));
    for (const name of files.keys()) {
      if (name === 'index.html') continue;
      app.get(`/${name}`, { schema }, async (_req, reply) => send(name, reply));
    }
  };
}
