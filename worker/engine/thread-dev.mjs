// Entry of the engine's pool threads when the engine runs from its TypeScript
// sources (tests, `tsx`). Node 20 worker threads do not inherit tsx's loader
// hooks from the parent, so this registers them before loading thread.ts.
// Built code (dist/) uses thread.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./thread.ts');

export default mod.default;
