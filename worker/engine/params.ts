/**
 * Validation of per-request detection parameters (SPEC.md §3: `conf`, `iou`,
 * `classes`, `maxDet`) against a model's class list.
 */
import { DEFAULT_DETECT_PARAMS, ErrorCode, YoloscaleError } from '../../protocol/index.js';
import type { DetectParams, ResolvedDetectParams } from '../../protocol/index.js';

/** Largest `maxDet` accepted. */
export const MAX_DET_LIMIT = 10_000;

/** Engine-side parameters: the public ones plus evaluation-only switches. */
export interface EngineDetectParams extends DetectParams {
  /**
   * Keep every class above `conf` for a box, not just the best one (the way
   * COCO evaluations are usually run). Default false.
   */
  multiLabel?: boolean;
}

/** {@link ResolvedDetectParams} plus the engine-only switches. */
export interface EngineResolvedParams extends ResolvedDetectParams {
  multiLabel: boolean;
}

function bad(message: string): YoloscaleError {
  return new YoloscaleError(ErrorCode.badRequest, message);
}

/**
 * Fills defaults and checks ranges; class names are resolved to ids.
 * Throws `bad_request` naming the offending field.
 */
export function resolveParams(params: EngineDetectParams | undefined, classNames: readonly string[]): EngineResolvedParams {
  const p = params ?? {};
  if (typeof p !== 'object') throw bad('params must be an object');
  const conf = p.conf ?? DEFAULT_DETECT_PARAMS.conf;
  const iou = p.iou ?? DEFAULT_DETECT_PARAMS.iou;
  const maxDet = p.maxDet ?? DEFAULT_DETECT_PARAMS.maxDet;
  const agnostic = p.agnostic ?? DEFAULT_DETECT_PARAMS.agnostic;
  const multiLabel = p.multiLabel ?? false;
  if (typeof conf !== 'number' || !(conf >= 0 && conf <= 1)) throw bad('params.conf must be a number between 0 and 1');
  if (typeof iou !== 'number' || !(iou >= 0 && iou <= 1)) throw bad('params.iou must be a number between 0 and 1');
  if (typeof maxDet !== 'number' || !Number.isInteger(maxDet) || maxDet < 1 || maxDet > MAX_DET_LIMIT) {
    throw bad(`params.maxDet must be an integer between 1 and ${MAX_DET_LIMIT}`);
  }
  if (typeof agnostic !== 'boolean') throw bad('params.agnostic must be a boolean');
  if (typeof multiLabel !== 'boolean') throw bad('params.multiLabel must be a boolean');
  let classIds: number[] | null = null;
  if (p.classes !== undefined && p.classes !== null) {
    if (!Array.isArray(p.classes)) throw bad('params.classes must be an array of class names or ids');
    const ids = new Set<number>();
    for (const c of p.classes) {
      if (typeof c === 'number') {
        if (!Number.isInteger(c) || c < 0 || c >= classNames.length) {
          throw bad(`params.classes: class id ${c} is out of range 0..${classNames.length - 1}`);
        }
        ids.add(c);
      } else if (typeof c === 'string') {
        const trimmed = c.trim();
        let id = classNames.indexOf(trimmed);
        if (id < 0 && /^\d+$/.test(trimmed)) id = Number(trimmed) < classNames.length ? Number(trimmed) : -1;
        if (id < 0) throw bad(`params.classes: unknown class ${JSON.stringify(c)}`);
        ids.add(id);
      } else {
        throw bad('params.classes must be an array of class names or ids');
      }
    }
    classIds = [...ids].sort((a, b) => a - b);
  }
  return { conf, iou, classIds, maxDet, agnostic, multiLabel };
}

/** A per-class keep mask for the decoders (null keeps all). */
export function classMask(classIds: readonly number[] | null, classCount: number): Uint8Array | null {
  if (classIds === null) return null;
  const m = new Uint8Array(classCount);
  for (const id of classIds) if (id >= 0 && id < classCount) m[id] = 1;
  return m;
}
