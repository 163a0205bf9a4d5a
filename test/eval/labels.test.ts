import t, { type Test } from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { isYoloscaleError } from '../../protocol/index.js';
import { evaluate, loadYoloDataset, parseYoloLabels } from '../../worker/eval/index.js';
import { IMAGES_DIR } from '../helpers/env.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ys-eval-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const COCO = readdirSync(join(IMAGES_DIR, 'labels')).map((f) => f.replace(/\.txt$/, ''));

t.test('labels - parses YOLO lines into pixel boxes, polygons into their bounding box', async (t) => {
  const boxes = parseYoloLabels('0 0.5 0.5 0.5 0.25\n\n  17 0.1 0.2 0.2 0.4  \r\n3 0.1 0.1 0.3 0.2 0.2 0.4\n', 640, 480);
  t.same(boxes, [
    { classId: 0, box: { x1: 160, y1: 180, x2: 480, y2: 300 } },
    { classId: 17, box: { x1: 0, y1: 0, x2: 128, y2: 192 } },
    { classId: 3, box: { x1: 64, y1: 48, x2: 192, y2: 192 } },
  ]);
  for (const bad of ['0 0.5 0.5 0.5', 'x 0.5 0.5 0.5 0.5', '1.5 0.5 0.5 0.5 0.5', '0 0.5 0.5 0.5 nan', '-1 0.5 0.5 0.5 0.5']) {
    try {
      parseYoloLabels(`0 0.5 0.5 0.1 0.1\n${bad}\n`, 100, 100, 'a.txt');
      t.fail(`accepted ${bad}`);
    } catch (err) {
      t.ok(isYoloscaleError(err, 'bad_request') && /a\.txt:2/.test(err.message), `${bad}: ${(err as Error).message}`);
    }
  }
});

t.test('labels - loads the shared COCO images with mirrored sub-folders and missing label files', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'images', 'val', 'a'), { recursive: true });
  mkdirSync(join(dir, 'labels', 'val', 'a'), { recursive: true });
  for (const [i, id] of COCO.entries()) {
    const sub = i % 2 === 0 ? join('val', 'a') : 'val';
    copyFileSync(join(IMAGES_DIR, `${id}.jpg`), join(dir, 'images', sub, `${id}.jpg`));
    copyFileSync(join(IMAGES_DIR, 'labels', `${id}.txt`), join(dir, 'labels', sub, `${id}.txt`));
  }
  copyFileSync(join(IMAGES_DIR, 'dog.jpg'), join(dir, 'images', 'background.JPG'));
  writeFileSync(join(dir, 'images', 'notes.txt'), 'not an image');
  const ds = await loadYoloDataset(dir);
  t.equal(ds.length, 5, 'four labelled images and one background image, text files skipped');
  t.equal(ds.reduce((s, d) => s + d.gt.length, 0), 16 + 8 + 33 + 12, 'every box of the README table');
  const bg = ds.find((d) => d.name === 'background.JPG');
  t.same(bg && { w: bg.width, h: bg.height, n: bg.gt.length }, { w: 768, h: 576, n: 0 });
  const plaza = ds.find((d) => d.name.endsWith('000000000257.jpg'));
  t.ok(plaza && plaza.name.startsWith('val/'), `sub-folder kept in the name: ${plaza?.name}`);
  // First line of its label file: "9 0.157914 0.445062 0.0367656 0.0682917" in a 640x480 image.
  const first = plaza!.gt[0];
  t.equal(first.classId, 9);
  t.ok(Math.abs(first.box.x1 - (0.157914 - 0.0367656 / 2) * 640) < 1e-9 && Math.abs(first.box.y2 - (0.445062 + 0.0682917 / 2) * 480) < 1e-9, 'normalised to pixels');
  // Ground truth scored against itself is perfect.
  const r = evaluate(ds.map((d) => ({ gt: d.gt, dets: d.gt.map((g) => ({ ...g, score: 1 })) })));
  t.equal(r.images, 5);
  t.equal(r.boxes, 69);
  t.ok(r.map50 > 0.999999 && r.map50_95 > 0.999999, 'self-evaluation gives 1');
});

t.test('labels - boxes are in the EXIF-oriented image', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'images'));
  mkdirSync(join(dir, 'labels'));
  const src = readFileSync(join(IMAGES_DIR, 'coco128-train2017-000000000257.jpg'));
  writeFileSync(join(dir, 'images', 'r.jpg'), await sharp(src).withMetadata({ orientation: 6 }).jpeg().toBuffer());
  writeFileSync(join(dir, 'labels', 'r.txt'), '0 0.5 0.5 0.5 0.5\n');
  const [img] = await loadYoloDataset(dir);
  t.same({ w: img.width, h: img.height }, { w: 480, h: 640 });
  t.same(img.gt[0].box, { x1: 120, y1: 160, x2: 360, y2: 480 });
});

t.test('labels - a missing or empty images folder and unreadable images are clear errors', async (t) => {
  const dir = tempDir(t);
  await t.rejects(loadYoloDataset(dir), /cannot read .*images/);
  mkdirSync(join(dir, 'images'));
  await t.rejects(loadYoloDataset(dir), /no JPEG, PNG or WebP images/);
  writeFileSync(join(dir, 'images', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
  try {
    await loadYoloDataset(dir);
    t.fail('accepted a broken image');
  } catch (err) {
    t.ok(isYoloscaleError(err, 'bad_image') && err.message.includes('broken.jpg'), (err as Error).message);
  }
});
