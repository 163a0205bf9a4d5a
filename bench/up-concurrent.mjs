// Issue #3's acceptance check, by hand: `yoloscale up` (as `npm start`), then 200 concurrent
// POST /v1/detect of the real photos; prints the statuses, the slowest answer and the nodes.
//   npm run build && node bench/up-concurrent.mjs [IMAGES_DIR] [MODELS_DIR]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const imagesDir = resolve(process.argv[2] ?? join(root, '..', 'shared', 'images'));
const dataDir = mkdtempSync(join(tmpdir(), 'ys-up200-'));
const env = { ...process.env, YOLOSCALE_MODELS: resolve(process.argv[3] ?? process.env.YOLOSCALE_MODELS ?? join(root, '..', 'shared', 'models')), YOLOSCALE_DATA_DIR: dataDir, YOLOSCALE_PORT: '18080', YOLOSCALE_ADMIN_PORT: '18081', YOLOSCALE_WORKER_PORT: '15555', YOLOSCALE_CLIENT_PORT: '15556' };
const up = spawn(process.execPath, [join(root, 'bin', 'yoloscale.js'), 'up', '--json'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
up.stdout.on('data', (d) => (out += d));
const info = await new Promise((res) => { const iv = setInterval(() => { try { const j = JSON.parse(out); clearInterval(iv); res(j); } catch {} }, 200); });
console.log('ready', info.ready);
const imgs = readdirSync(imagesDir).filter((f) => f.endsWith('.jpg'));
const t0 = Date.now();
const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
  const name = imgs[i % imgs.length];
  const r = await fetch('http://127.0.0.1:18080/v1/detect', { method: 'POST', headers: { authorization: `Bearer ${info.demoKey}`, 'content-type': 'image/jpeg' }, body: readFileSync(join(imagesDir, name)) });
  const j = await r.json();
  return { name, status: r.status, n: j.detections?.length, bus: j.detections?.some((d) => d.class === 'bus' && d.score > 0.8), code: j.error?.code, ms: Date.now() - t0 };
}));
const byStatus = {};
for (const r of results) byStatus[r.status + (r.code ? ':' + r.code : '')] = (byStatus[r.status + (r.code ? ':' + r.code : '')] ?? 0) + 1;
console.log('wall ms', Date.now() - t0, byStatus, 'max ms', Math.max(...results.map((r) => r.ms)));
console.log('bus found on bus.jpg:', results.filter((r) => r.name === 'bus.jpg').every((r) => r.bus), 'images', imgs.length);
const nodes = await (await fetch('http://127.0.0.1:18081/v1/nodes', { headers: { authorization: `Bearer ${info.adminToken}` } })).json();
console.log(nodes.nodes.map((n) => `${n.id} ${n.state} slots=${n.slots} models=${n.models} done=${n.framesDone}`).join('\n'));
up.kill('SIGTERM');
await new Promise((r) => up.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
