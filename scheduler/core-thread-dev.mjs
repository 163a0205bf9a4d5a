// Entry of the scheduler core thread when the scheduler runs from its
// TypeScript sources (tests, `tsx`). Node 20 worker threads do not inherit
// tsx's loader hooks from the parent, so this registers them before loading
// core-thread.ts. Built code (dist/) uses core-thread.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./core-thread.ts');
