/**
 * UTC-hour arithmetic shared by both backends. Pure.
 */

/** Milliseconds in one hour. */
export const HOUR_MS = 3_600_000;

/** Index of the UTC hour containing `nowMs` (hours since the epoch). */
export function hourIndex(nowMs: number): number {
  return Math.floor(nowMs / HOUR_MS);
}

/** ISO-8601 start of the UTC hour with index `hour`. */
export function hourStartIso(hour: number): string {
  return new Date(hour * HOUR_MS).toISOString();
}

/** ISO-8601 start of the next UTC hour after `nowMs`. */
export function resetAtIso(nowMs: number): string {
  return hourStartIso(hourIndex(nowMs) + 1);
}

/** Whole seconds from `nowMs` to the start of the next UTC hour (1…3600). */
export function secondsToNextHour(nowMs: number): number {
  return Math.max(1, Math.ceil(((hourIndex(nowMs) + 1) * HOUR_MS - nowMs) / 1000));
}
