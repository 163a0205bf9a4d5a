import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../helpers/cli.js';
import { image } from '../helpers/env.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ys-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Det {
  class: string;
  score: number;
  box: { x1: number; y1: number; x2: number; y2: number };
}

t.setTimeout(400_000);

t.test('detect - yolox-nano finds the bus and at least three people, as SPEC §3 JSON', async (t) => {
  const r = await runCli(['detect', image('bus.jpg'), '--json']);
  t.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { model: string; image: { width: number; height: number }; detections: Det[]; timing: Record<string, number>; tokens?: unknown };
  t.equal(res.model, 'yolox-nano');
  t.same(res.image, { width: 810, height: 1080 });
  const bus = res.detections.find((d) => d.class === 'bus');
  t.ok(bus && bus.score > 0.8, `bus score ${bus?.score}`);
  t.ok(bus && bus.box.x1 < 40 && bus.box.x2 > 780 && bus.box.y1 > 200 && bus.box.y2 < 760, 'bus box in original-image pixels');
  t.ok(res.detections.filter((d) => d.class === 'person').length >= 3, 'three or more people');
  t.match(res.timing, { queueMs: Number, inferMs: Number, totalMs: Number });
  t.notOk('tokens' in res, 'no tokens block for local detect');
});

t.test('detect - filters, annotation and human table', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'bus-boxes.jpg');
  const r = await runCli(['detect', image('bus.jpg'), '--model', 'yolo11n-320', '--classes', 'bus', '--conf', '0.5', '--annotate', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /yolo11n-320, 810×1080/);
  t.match(r.stdout, /^bus\s+5\s+0\.\d+/m);
  t.notMatch(r.stdout, /^person/m, '--classes bus drops people');
  const meta = await sharp(readFileSync(out)).metadata();
  t.equal(meta.format, 'jpeg');
  t.same([meta.width, meta.height], [810, 1080]);
});

t.test('detect - bad input is one clear line and a non-zero exit', async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk.jpg');
  writeFileSync(junk, 'this is not an image');
  const bad = await runCli(['detect', junk]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^yoloscale detect: .*(bad_image)/);
  t.equal(bad.stderr.trim().split('\n').length, 1, 'one line');

  const missing = await runCli(['detect', image('bus.jpg'), '--models', dir]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*models pull yolox-nano`), 'says where it looked and how to get it');

  const usage = await runCli(['detect', image('bus.jpg'), '--conf', '2']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /--conf must be a number between 0 and 1/);

  const unknown = await runCli(['detect', image('bus.jpg'), '--model', 'nope']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /unknown model "nope"|unknown_model/);
});

t.test('cli - help, unknown commands and config validation', async (t) => {
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  for (const c of ['up', 'detect', 'eval', 'models', 'nodes', 'pool', 'tenants', 'plans', 'usage', 'queue', 'top']) t.match(help.stdout, new RegExp(`^  ${c}\\s`, 'm'));
  const cmdHelp = await runCli(['nodes', '--help']);
  t.equal(cmdHelp.code, 0);
  t.match(cmdHelp.stdout, /Examples:/);
  const unknown = await runCli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);

  const dir = tempDir(t);
  const cfg = join(dir, 'cfg.yaml');
  writeFileSync(cfg, 'port: 9000\nbogus: 1\n');
  const bad = await runCli(['models', 'ls', '--config', cfg]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown key "bogus"/);
  writeFileSync(cfg, `models: ${dir}\n`);
  const ok = await runCli(['models', 'ls', '--json', '--config', cfg], { env: { YOLOSCALE_MODELS: '' } });
  t.equal(ok.code, 0, ok.stderr);
  const listing = JSON.parse(ok.stdout) as { dir: string; models: Array<{ id: string; present: boolean }> };
  t.equal(listing.dir, dir, 'config file sets the model directory');
  t.ok(listing.models.every((m) => !m.present));
  t.notOk(existsSync(join(dir, 'models.json')));
});
