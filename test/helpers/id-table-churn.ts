// Child process of test/protocol/id-table.test.ts (run with --expose-gc):
// what the scheduler does per frame, on a long-lived Map or IdTable (argv[2]
// `map` or `table`): add an entry, drop the one answered four frames ago,
// scavenge every 100 frames. Prints how many bytes the old generation grew.
import { getHeapSpaceStatistics } from 'node:v8';
import { IdTable } from '../../protocol/id-table.js';

const gc = (globalThis as { gc?: (o: { type: 'minor' | 'major' }) => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const oldSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
const table: { set(id: number, v: unknown): unknown; delete(id: number): unknown } = process.argv[2] === 'map' ? new Map<number, unknown>() : new IdTable<unknown>();
gc({ type: 'major' });
gc({ type: 'major' });
const before = oldSpace();
for (let id = 1; id <= 20_000; id++) {
  table.set(id, { frame: id, result: new Array<number>(64).fill(id) });
  if (id > 4) table.delete(id - 4);
  if (id % 100 === 0) gc({ type: 'minor' });
}
process.stdout.write(String(oldSpace() - before));
