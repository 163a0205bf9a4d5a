import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { IMAGES_DIR, MODELS_DIR } from '../helpers/env.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ys-models-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A local stand-in for the release server: serves the real yolox_nano.onnx, or a corrupted copy. */
async function releaseServer(t: Test): Promise<string> {
  const real = readFileSync(join(MODELS_DIR, 'yolox_nano.onnx'));
  const corrupted = Buffer.from(real);
  corrupted[corrupted.length >> 1] ^= 0xff;
  const server = createServer((req, res) => {
    const body = req.url === '/good/yolox_nano.onnx' ? real : req.url === '/bad/yolox_nano.onnx' ? corrupted : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.setTimeout(400_000);

t.test('models pull - downloads, verifies SHA-256 and refuses a corrupted file', async (t) => {
  const base = await releaseServer(t);
  const dir = tempDir(t);
  const bad = await runCli(['models', 'pull', 'yolox-nano', '--models', dir, '--url', `${base}/bad/yolox_nano.onnx`]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /corrupted: SHA-256 [0-9a-f]{64} does not match/);
  t.same(readdirSync(dir), [], 'nothing left behind');

  const good = await runCli(['models', 'pull', 'yolox-nano', '--models', dir, '--url', `${base}/good/yolox_nano.onnx`, '--json']);
  t.equal(good.code, 0, good.stderr);
  const res = JSON.parse(good.stdout) as { sha256: string; bytes: number; downloaded: boolean };
  t.equal(res.sha256, 'c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d');
  t.equal(res.bytes, 3659407);
  t.match(good.stderr, /pulling yolox-nano 100%/, 'progress shown');
  t.ok(existsSync(join(dir, 'yolox_nano.onnx')));

  const again = await runCli(['models', 'pull', 'yolox-nano', '--models', dir, '--url', `${base}/good/yolox_nano.onnx`]);
  t.equal(again.code, 0);
  t.match(again.stderr, /already at/);

  const noUrl = await runCli(['models', 'pull', 'yolo11n-320', '--models', dir]);
  t.equal(noUrl.code, 1);
  t.match(noUrl.stderr, /no official download URL; copy yolo11n_coco_int8dyn_320\.onnx into/);
  const unknown = await runCli(['models', 'pull', 'nope', '--models', dir]);
  t.equal(unknown.code, 2);
});

t.test('models ls and add - the catalog and family detection through the CLI', async (t) => {
  const dir = tempDir(t);
  const ls = await runCli(['models', 'ls', '--json']);
  t.equal(ls.code, 0, ls.stderr);
  const listing = JSON.parse(ls.stdout) as { models: Array<{ id: string; present: boolean; family: string }> };
  t.same(
    listing.models.filter((m) => m.present).map((m) => [m.id, m.family]),
    [
      ['yolox-nano', 'yolox'],
      ['yolo11n-320', 'ultralytics'],
      ['yolov5n-256', 'yolov5'],
      ['yolov10n', 'yolov10'],
    ],
  );
  const add = await runCli(['models', 'add', join(MODELS_DIR, 'yolov5n_coco_fp16_256.onnx'), '--id', 'my-v5', '--models', dir, '--json']);
  t.equal(add.code, 0, add.stderr);
  t.match(JSON.parse(add.stdout), { id: 'my-v5', family: 'yolov5', inputSize: 256, classes: 80 });
  const after = JSON.parse((await runCli(['models', 'ls', '--json', '--models', dir])).stdout) as { models: Array<{ id: string; present: boolean }> };
  t.ok(after.models.find((m) => m.id === 'my-v5')?.present, 'registered model listed as present');
  const missing = await runCli(['models', 'add', join(dir, 'nope.onnx'), '--id', 'x', '--models', dir]);
  t.equal(missing.code, 1);
});

t.test('eval - mAP over a YOLO-format labelled folder', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'images', 'sub'), { recursive: true });
  mkdirSync(join(dir, 'labels', 'sub'), { recursive: true });
  const names = ['coco128-train2017-000000000071', 'coco128-train2017-000000000074', 'coco128-train2017-000000000257', 'coco128-train2017-000000000641'];
  names.forEach((n, i) => {
    const sub = i % 2 ? 'sub/' : '';
    symlinkSync(join(IMAGES_DIR, `${n}.jpg`), join(dir, 'images', `${sub}${n}.jpg`));
    symlinkSync(join(IMAGES_DIR, 'labels', `${n}.txt`), join(dir, 'labels', `${sub}${n}.txt`));
  });
  const r = await runCli(['eval', '--data', dir, '--json'], { timeoutMs: 120_000 });
  t.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { images: number; boxes: number; map50: number; map50_95: number };
  t.equal(res.images, 4);
  t.equal(res.boxes, 16 + 8 + 33 + 12, 'every labelled box counted');
  t.ok(res.map50 > 0.2 && res.map50 <= 1, `map50 ${res.map50}`);
  t.ok(res.map50_95 > 0.05 && res.map50_95 < res.map50, `map50_95 ${res.map50_95}`);
  const noData = await runCli(['eval']);
  t.equal(noData.code, 2);
});
