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
