/**
 * Prices and default plans of SPEC.md §7. Pure: no I/O, no clock.
 */
import type { Plan } from './types.js';

/** Pixels of one 1080p frame: every started multiple costs the model's tokens once more. */
export const PIXELS_PER_TOKEN_UNIT = 1920 * 1080;

/**
 * Token cost of one frame: `modelTokens × max(1, ceil(width×height / 2,073,600))`.
 * @param modelTokens tokens per frame of the model (catalog, SPEC.md §3), a positive integer
 * @param width image width in pixels
 * @param height image height in pixels
 * @throws RangeError when an argument is not a positive integer (width/height may be 0 for unknown, costing one unit)
 */
export function frameCost(modelTokens: number, width: number, height: number): number {
  if (!Number.isSafeInteger(modelTokens) || modelTokens <= 0) throw new RangeError('modelTokens must be a positive integer');
  if (!Number.isSafeInteger(width) || width < 0) throw new RangeError('width must be a non-negative integer');
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError('height must be a non-negative integer');
  return modelTokens * Math.max(1, Math.ceil((width * height) / PIXELS_PER_TOKEN_UNIT));
}

/** The default plans (editable at run time); every model allowed, overflow rejected. */
export const DEFAULT_PLANS: readonly Readonly<Plan>[] = Object.freeze([
  Object.freeze({ name: 'free', tokensPerHour: 3_600, models: null, overflow: 'reject' as const }),
  Object.freeze({ name: 'starter', tokensPerHour: 108_000, models: null, overflow: 'reject' as const }),
  Object.freeze({ name: 'pro', tokensPerHour: 540_000, models: null, overflow: 'reject' as const }),
  Object.freeze({ name: 'enterprise', tokensPerHour: 2_160_000, models: null, overflow: 'reject' as const }),
]);

/** Plan a tenant gets when none is named. */
export const DEFAULT_PLAN_NAME = 'free';
