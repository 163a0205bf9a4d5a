import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadVerified } from '../../worker/engine/download.js';
import { isYoloscaleError } from '../../protocol/index.js';

const payload = Buffer.alloc(300_000, 7).map((_, i) => (i * 31) & 0xff);
const digest = createHash('sha256').update(payload).digest('hex');

async function serve(t: Test) {
  const server = createServer((req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/model.onnx' }).end();
    } else if (req.url === '/model.onnx') {
      res.writeHead(200, { 'content-length': payload.length });
      // Send in chunks so progress is reported more than once.
      res.write(payload.subarray(0, 100_000));
      setTimeout(() => res.end(payload.subarray(100_000)), 20);
    } else if (req.url === '/truncated') {
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 1000), () => res.destroy());
    } else {
      res.writeHead(404).end('nope');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tempDir(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'ys-dl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('download - follows redirects, reports progress and verifies the hash', async (t) => {
  const base = await serve(t);
  const dir = tempDir(t);
  const seen: number[] = [];
  const res = await downloadVerified({ url: `${base}/redirect`, dest: join(dir, 'm.onnx'), sha256: digest, onProgress: (p) => seen.push(p.received) });
  t.equal(res.sha256, digest);
  t.equal(res.bytes, payload.length);
  t.ok(seen.length >= 2, 'progress reported several times');
  t.equal(seen.at(-1), payload.length);
  t.same(readFileSync(join(dir, 'm.onnx')), payload);
  t.same(readdirSync(dir), ['m.onnx'], 'no temp file left');
});

t.test('download - a corrupted download leaves nothing behind', async (t) => {
  const base = await serve(t);
  const dir = tempDir(t);
  const wrong = 'f'.repeat(64);
  await t.rejects(downloadVerified({ url: `${base}/model.onnx`, dest: join(dir, 'm.onnx'), sha256: wrong }), /corrupted.*does not match/);
  t.same(readdirSync(dir), [], 'no partial file');
});

t.test('download - truncated transfer and HTTP errors are clear failures', async (t) => {
  const base = await serve(t);
  const dir = tempDir(t);
  const err = await downloadVerified({ url: `${base}/truncated`, dest: join(dir, 'm.onnx'), sha256: digest }).catch((e: unknown) => e);
  t.ok(isYoloscaleError(err), 'typed error');
  t.match((err as Error).message, /truncated|closed|aborted|failed/);
  t.notOk(existsSync(join(dir, 'm.onnx')));
  await t.rejects(downloadVerified({ url: `${base}/missing`, dest: join(dir, 'm.onnx') }), /HTTP 404/);
  await t.rejects(downloadVerified({ url: 'ftp://example.invalid/x', dest: join(dir, 'm.onnx') }), /unsupported URL scheme/);
  t.same(readdirSync(dir), []);
});
