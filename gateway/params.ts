/**
 * Detection parameters from query strings, multipart fields, JSON bodies and
 * stream config messages, validated into `DetectParams` plus a model id.
 */
import { Value } from '@sinclair/typebox/value';
import { ErrorCode, YoloscaleError } from '../protocol/index.js';
import type { DetectParams } from '../protocol/index.js';
import { DetectParamsSchema } from './schemas.js';
import type { DetectParamsInput } from './schemas.js';
import type { BackendModelInfo } from './backend.js';

const NUMERIC = new Set(['conf', 'iou', 'maxDet']);
const KNOWN = new Set(['model', 'conf', 'iou', 'classes', 'maxDet']);

/**
 * Validates raw parameters (strings from a query or form, or JSON values):
 * numbers are coerced, `classes` may be a comma-separated string or an array.
 * @throws YoloscaleError `bad_request` naming the first bad field.
 */
export function parseDetectParams(raw: Readonly<Record<string, unknown>>): { model?: string; params: DetectParams } {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!KNOWN.has(key)) throw new YoloscaleError(ErrorCode.badRequest, `unknown parameter "${key}"`);
    if (NUMERIC.has(key) && typeof value === 'string') {
      const n = value.trim() === '' ? Number.NaN : Number(value);
      input[key] = Number.isFinite(n) ? n : value;
    } else if (key === 'classes' && Array.isArray(value)) {
      input[key] = value.map(String).join(',');
    } else {
      input[key] = value;
    }
  }
  if (!Value.Check(DetectParamsSchema, input)) {
    const first = [...Value.Errors(DetectParamsSchema, input)][0];
    const field = first?.path.replace(/^\//, '') || 'parameters';
    throw new YoloscaleError(ErrorCode.badRequest, `invalid parameter ${field}: ${first?.message ?? 'invalid'}`, { details: { field } });
  }
  const p = input as DetectParamsInput;
  const params: DetectParams = {};
  if (p.conf !== undefined) params.conf = p.conf;
  if (p.iou !== undefined) params.iou = p.iou;
  if (p.maxDet !== undefined) params.maxDet = p.maxDet;
  if (p.classes !== undefined && p.classes.trim() !== '') {
    params.classes = p.classes
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '')
      .map((c) => (/^\d+$/.test(c) ? Number(c) : c));
  }
  return p.model === undefined ? { params } : { model: p.model, params };
}

/**
 * The model a request names (or the default, the first the backend lists).
 * @throws YoloscaleError `unknown_model` (400), or `no_capacity` (503) when the cluster offers none.
 */
export function resolveModel(requested: string | undefined, models: readonly BackendModelInfo[]): BackendModelInfo {
  if (models.length === 0) throw new YoloscaleError(ErrorCode.noCapacity, 'no models are available right now', { retryAfterS: 5 });
  if (requested === undefined) return models[0];
  const found = models.find((m) => m.id === requested);
  if (!found) {
    throw new YoloscaleError(ErrorCode.unknownModel, `unknown model "${requested}"; available: ${models.map((m) => m.id).join(', ')}`, {
      details: { model: requested },
    });
  }
  return found;
}

/**
 * Checks `classes` names against the model's class list where it is known.
 * @throws YoloscaleError `bad_request` for an unknown class name or id.
 */
export function checkClasses(params: DetectParams, model: BackendModelInfo): void {
  const names = model.classNames;
  if (!params.classes || !names) return;
  for (const c of params.classes) {
    const ok = typeof c === 'number' ? Number.isInteger(c) && c >= 0 && c < names.length : names.includes(c);
    if (!ok) throw new YoloscaleError(ErrorCode.badRequest, `unknown class ${JSON.stringify(c)} for model ${model.id}`, { details: { field: 'classes' } });
  }
}
