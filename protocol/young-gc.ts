/**
 * A young-generation collection on demand, for sockets that receive images
 * faster than the JavaScript heap fills (see `scavengeEveryBytes` in zmq.ts).
 * `gc` is exposed only when asked for: the flag is set and a fresh context
 * fetched the first time, so processes that never pace pay nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (opts: { type: 'minor' | 'major' }) => void;

let gcFn: GcFn | undefined;

/** Runs one scavenge (young generation only) now. */
export function collectYoung(): void {
  if (!gcFn) {
    const exposed = (globalThis as { gc?: GcFn }).gc;
    if (exposed) gcFn = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFn;
    }
  }
  gcFn({ type: 'minor' });
}

/** Default pacing of the cluster's receiving sockets: a scavenge per 8 MB of received images. */
export const DEFAULT_SCAVENGE_MB = 8;

/**
 * Socket options for a `scavengeEveryMb` setting (default
 * {@link DEFAULT_SCAVENGE_MB}; 0 turns pacing off). Throws a TypeError
 * naming `options.<name>` for anything but a number ≥ 0.
 */
export function scavengePacing(mb: number | undefined, name = 'scavengeEveryMb'): { scavengeEveryBytes?: number } {
  if (mb !== undefined && !(typeof mb === 'number' && Number.isFinite(mb) && mb >= 0)) throw new TypeError(`options.${name} must be a number ≥ 0`);
  const value = mb ?? DEFAULT_SCAVENGE_MB;
  return value > 0 ? { scavengeEveryBytes: Math.max(1, Math.round(value * 2 ** 20)) } : {};
}
