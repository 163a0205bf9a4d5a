import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPreprocessBench } from '../../bench/preprocess.js';
import { OPENCV_PYTHON } from '../helpers/env.js';

const haveCv2 = OPENCV_PYTHON !== undefined;

t.test('bench preprocess - runs ours and OpenCV side by side and writes the JSON', { skip: haveCv2 ? false : 'python3-opencv is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runPreprocessBench({ frames: 2, rounds: 1, warmup: 1, outDir: dir });
  const json = JSON.parse(readFileSync(join(dir, 'preprocess.json'), 'utf8'));
  t.same(json, r, 'file holds the returned result');
  for (const k of ['image', 'frames', 'jpegDecoder', 'prepareMsPerFrame', 'opencvMsPerFrame', 'ratio', 'decodeFloorRatio', 'turbojpegDecodeMsPerFrame']) t.ok(k in json, k);
  t.ok(r.prepareMsPerFrame > 0 && r.opencvMsPerFrame > 0);
  t.ok(Math.abs(r.ratio - r.prepareMsPerFrame / r.opencvMsPerFrame) < 0.01, 'ratio is ours over OpenCV');
  // Faithfulness, not speed: our tensor is OpenCV's, give or take one grey level on a few pixels.
  t.ok(r.tensorMaxAbsDiff <= 1, `max element difference ${r.tensorMaxAbsDiff}`);
  t.ok(r.tensorFractionDiffering < 0.01, `fraction differing ${r.tensorFractionDiffering}`);
});
