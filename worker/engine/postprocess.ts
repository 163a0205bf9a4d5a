/**
 * From one image's output slice to detections in original-image pixels:
 * decode, NMS (or top-k for end-to-end models), undo the letterbox, clip.
 */
import type { Detection } from '../../protocol/index.js';
import { Candidates } from './candidates.js';
import { decodeFamily, familyNeedsNms } from './decode.js';
import type { OutputSlice } from './decode.js';
import type { ModelFamily } from './models.js';
import { nms, topK } from './nms.js';
import { classMask } from './params.js';
import type { EngineResolvedParams } from './params.js';

/** Where the original image sits inside the model input (see `PreparedImage`). */
export interface LetterboxGeometry {
  /** Original width and height in pixels. */
  width: number;
  height: number;
  /** Input pixels per original pixel. */
  ratio: number;
  /** Left and top padding in input pixels. */
  padX: number;
  padY: number;
}

/** What the post-processing needs to know about the model. */
export interface PostprocessModel {
  family: ModelFamily;
  inputSize: number;
  classNames: readonly string[];
}

function clip(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Maps a box from model-input pixels to original-image pixels: subtract the
 * padding, divide by the ratio, clip to the image.
 */
export function unletterbox(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  g: LetterboxGeometry,
): { x1: number; y1: number; x2: number; y2: number } {
  return {
    x1: clip((x1 - g.padX) / g.ratio, g.width),
    y1: clip((y1 - g.padY) / g.ratio, g.height),
    x2: clip((x2 - g.padX) / g.ratio, g.width),
    y2: clip((y2 - g.padY) / g.ratio, g.height),
  };
}

/**
 * Full post-processing of one image. Scores are rounded to 5 decimals and box
 * corners to 0.01 px; detections come highest score first.
 */
export function postprocess(
  model: PostprocessModel,
  slice: OutputSlice,
  geometry: LetterboxGeometry,
  params: EngineResolvedParams,
): Detection[] {
  const classCount = model.classNames.length;
  const cands = decodeFamily(
    model.family,
    slice,
    model.inputSize,
    classCount,
    { conf: params.conf, classMask: classMask(params.classIds, classCount), multiLabel: params.multiLabel },
    new Candidates(),
  );
  const keep = familyNeedsNms(model.family)
    ? nms(cands, { iou: params.iou, agnostic: params.agnostic, maxDet: params.maxDet })
    : topK(cands, params.maxDet);
  const out: Detection[] = [];
  for (const i of keep) {
    const b = i * 4;
    const box = unletterbox(cands.boxes[b]!, cands.boxes[b + 1]!, cands.boxes[b + 2]!, cands.boxes[b + 3]!, geometry);
    const classId = cands.classIds[i]!;
    out.push({
      class: model.classNames[classId] ?? `class${classId}`,
      classId,
      score: round(cands.scores[i]!, 5),
      box: { x1: round(box.x1, 2), y1: round(box.y1, 2), x2: round(box.x2, 2), y2: round(box.y2, 2) },
    });
  }
  return out;
}
