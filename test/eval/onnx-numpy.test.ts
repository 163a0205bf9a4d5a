import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModel, openSession } from '../../worker/engine/index.js';
import { prepareImage } from '../../worker/image/index.js';
import { HAVE_MODELS, MODELS_DIR, REPO_ROOT, image } from '../helpers/env.js';

// The numpy interpreter is the cross-check's engine for the dynamically quantised models; here it must agree with onnxruntime on a float one.
const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import onnx, numpy'], { stdio: 'ignore' }).status === 0);
const skip = python === undefined ? 'python3-onnx is not installed' : !HAVE_MODELS ? 'models missing' : false;

t.test('onnx_numpy - the cross-check interpreter reproduces onnxruntime on yolox-nano', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-onnxnp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const m = builtinModel('yolox-nano');
  if (m === undefined) throw new Error('yolox-nano is not built in');
  const file = join(MODELS_DIR, m.file);
  const input = (await prepareImage(readFileSync(image('bus.jpg')), m.input)).data as Float32Array;
  const session = await openSession(file, { device: 'cpu', intraOpNumThreads: 1 });
  const ref = (await session.run({ data: input, dims: [1, 3, m.input.size, m.input.size] })).data as Float32Array;
  writeFileSync(join(dir, 'in.f32'), input);
  const code = [
    'import sys, numpy as np',
    `sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'bench'))})`,
    'from onnx_numpy import Interpreter',
    `x = np.fromfile(sys.argv[2], np.float32).reshape(1, 3, ${m.input.size}, ${m.input.size})`,
    'Interpreter(sys.argv[1])(x).tofile(sys.argv[3])',
  ].join('\n');
  const r = spawnSync(python as string, ['-c', code, file, join(dir, 'in.f32'), join(dir, 'out.f32')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  t.equal(r.status, 0, r.stderr);
  const raw = readFileSync(join(dir, 'out.f32'));
  const ours = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  t.equal(ours.length, ref.length, 'same output size');
  let worst = 0;
  let spread = 0;
  for (let i = 0; i < ref.length; i++) {
    worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    spread = Math.max(spread, Math.abs(ref[i]));
  }
  t.ok(spread > 1, `the output is not trivial (largest |value| ${spread})`);
  t.ok(worst < 1e-3, `largest difference ${worst}`);
});
