/**
 * Model descriptors: everything the engine needs to feed a model and read
 * its answer, and the built-in catalog of SPEC.md §3.
 */
import type { LetterboxSpec } from '../image/letterbox-spec.js';
import { COCO_CLASSES } from './coco.js';

/** Output layouts the decoders understand (see ../shared/models/README.md). */
export type ModelFamily = 'yolox' | 'ultralytics' | 'yolov5' | 'yolov10';

/** Every family, for validation and help texts. */
export const MODEL_FAMILIES: readonly ModelFamily[] = Object.freeze(['yolox', 'ultralytics', 'yolov5', 'yolov10']);

/**
 * One model the engine can run.
 *
 * `input` says how images are letterboxed; `family` says how the output is
 * decoded; `outputDtype` says whether the output tensor holds halves.
 */
export interface ModelDescriptor {
  /** Catalog id, e.g. `yolox-nano`. */
  id: string;
  /** File name inside the model directory. */
  file: string;
  family: ModelFamily;
  input: LetterboxSpec;
  /** Element type of the first output tensor. */
  outputDtype: 'float32' | 'float16';
  /** Tokens one frame of up to 1080p area costs (SPEC.md §7). */
  tokensPerFrame: number;
  /** Class names by class id. */
  classNames: readonly string[];
  /** Official download URL, where one exists. */
  url?: string;
  /** Expected SHA-256 of the file (lower-case hex), where known. */
  sha256?: string;
  /** True for the catalog of SPEC.md §3, false for `models add` registrations. */
  builtIn: boolean;
  /** One-line description for listings. */
  description: string;
}

/** Id of the pseudo-model that answers at once with no detections (SPEC.md §3). */
export const ECHO_MODEL_ID = 'echo';

/** Id of the default model. */
export const DEFAULT_MODEL_ID = 'yolox-nano';

/** The letterbox every Ultralytics-trained family uses: centred, RGB, /255, pad 114. */
export function ultralyticsLetterbox(size: number, dtype: 'float32' | 'float16' = 'float32'): LetterboxSpec {
  return Object.freeze({ size, channelOrder: 'rgb', scale: 255, placement: 'centre', padValue: 114, dtype });
}

/** The YOLOX letterbox: top-left, BGR, raw 0–255, pad 114. */
export function yoloxLetterbox(size: number, dtype: 'float32' | 'float16' = 'float32'): LetterboxSpec {
  return Object.freeze({ size, channelOrder: 'bgr', scale: 1, placement: 'top-left', padValue: 114, dtype });
}

/** The default letterbox of a family at a given input size. */
export function familyLetterbox(family: ModelFamily, size: number, dtype: 'float32' | 'float16' = 'float32'): LetterboxSpec {
  return family === 'yolox' ? yoloxLetterbox(size, dtype) : ultralyticsLetterbox(size, dtype);
}

/** The four built-in models of SPEC.md §3, in catalog order. */
export const BUILTIN_MODELS: readonly ModelDescriptor[] = Object.freeze([
  Object.freeze({
    id: 'yolox-nano',
    file: 'yolox_nano.onnx',
    family: 'yolox',
    input: yoloxLetterbox(416),
    outputDtype: 'float32',
    tokensPerFrame: 1,
    classNames: COCO_CLASSES,
    url: 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx',
    sha256: 'c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d',
    builtIn: true,
    description: 'YOLOX-Nano, official release (Apache-2.0), 416×416',
  }),
  Object.freeze({
    id: 'yolo11n-320',
    file: 'yolo11n_coco_int8dyn_320.onnx',
    family: 'ultralytics',
    input: ultralyticsLetterbox(320),
    outputDtype: 'float32',
    tokensPerFrame: 1,
    classNames: COCO_CLASSES,
    sha256: 'a513b3f4a008def6dbda3c4028cc7d030e18e1034614a9256d2b9e3f815ce1fe',
    builtIn: true,
    description: 'Ultralytics YOLO11n, dynamic int8 (AGPL-3.0), 320×320',
  }),
  Object.freeze({
    id: 'yolov5n-256',
    file: 'yolov5n_coco_fp16_256.onnx',
    family: 'yolov5',
    input: ultralyticsLetterbox(256, 'float16'),
    outputDtype: 'float16',
    tokensPerFrame: 1,
    classNames: COCO_CLASSES,
    sha256: 'cda141ef759c43c2b3461810aaeb937922e712dde6b73104680ddd2fc784d076',
    builtIn: true,
    description: 'Ultralytics YOLOv5n, float16 I/O (AGPL-3.0), 256×256',
  }),
  Object.freeze({
    id: 'yolov10n',
    file: 'yolov10n_coco_int8dyn_640.onnx',
    family: 'yolov10',
    input: ultralyticsLetterbox(640),
    outputDtype: 'float32',
    tokensPerFrame: 2,
    classNames: COCO_CLASSES,
    sha256: 'c210371d7793313eb83db9a6777501779801917e3a8bd3c3ec2b3535d08a78bc',
    builtIn: true,
    description: 'YOLOv10n end-to-end, dynamic int8 (AGPL-3.0), 640×640',
  }),
] satisfies ModelDescriptor[]);

/** Looks up a built-in descriptor by id. */
export function builtinModel(id: string): ModelDescriptor | undefined {
  return BUILTIN_MODELS.find((m) => m.id === id);
}
