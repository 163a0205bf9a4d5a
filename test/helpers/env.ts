import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython } from '../../bench/python.js';

/** Repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Shared data beside the checkout: models, images, video (SPEC: point tests at it through YOLOSCALE_MODELS). */
export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');

/** The model directory the tests use: `YOLOSCALE_MODELS`, else `../shared/models`. */
export const MODELS_DIR = process.env.YOLOSCALE_MODELS ? resolve(process.env.YOLOSCALE_MODELS) : join(SHARED_DIR, 'models');

/** Real photos. */
export const IMAGES_DIR = join(SHARED_DIR, 'images');

/** Real video clips. */
export const VIDEO_DIR = join(SHARED_DIR, 'video');

/** Path of one shared photo, e.g. `image('bus.jpg')`. */
export function image(name: string): string {
  return join(IMAGES_DIR, name);
}

/** True when the real models are present (they always are in CI). */
export const HAVE_MODELS = existsSync(join(MODELS_DIR, 'yolox_nano.onnx'));

/** The Python with cv2 and numpy the OpenCV comparisons run under (bench/python.ts's choice), or undefined where there is none. */
export const OPENCV_PYTHON: string | undefined = (() => {
  try {
    return findPython(undefined);
  } catch {
    return undefined;
  }
})();
