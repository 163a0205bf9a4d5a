/**
 * `npm run test:chaos -- --minutes N [--faults a,b]`: runs the chaos suite for
 * N minutes (default 2; at least one rotation of every fault, or of the
 * faults named), writes
 * bench/results/chaos.json and prints lost frames, double charges and
 * reconciliation. Exits 1 when any of the three is wrong.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scriptFlags } from '../../bench/script-args.js';
import { REPO_ROOT } from '../helpers/env.js';
import { FAULTS, runChaos } from './driver.js';
import type { FaultName } from './driver.js';

const minutes = scriptFlags().num('minutes') ?? 2;
if (!(minutes >= 0)) {
  process.stderr.write('--minutes must be a number ≥ 0\n');
  process.exit(2);
}
const only = scriptFlags().get('faults')?.split(',') as FaultName[] | undefined;
const unknown = only?.filter((f) => !FAULTS.includes(f));
if (unknown?.length) {
  process.stderr.write(`--faults: unknown fault ${unknown.join(', ')} (known: ${FAULTS.join(', ')})\n`);
  process.exit(2);
}
const r = await runChaos({ durationMs: minutes * 60_000, ...(only ? { faults: only } : {}), log: (l) => process.stderr.write(`chaos: ${l}\n`) });
const { memory, ...figures } = r;
const out = join(REPO_ROOT, 'bench', 'results', 'chaos.json');
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(out, `${JSON.stringify({ ...figures, memory }, null, 2)}\n`);
process.stdout.write(`chaos: ${r.faults} faults over ${r.minutes} min, ${r.frames} frames charged: lost ${r.lost}, doubleCharged ${r.doubleCharged}, reconciled ${r.reconciled}\n`);
process.exit(r.lost === 0 && r.doubleCharged === 0 && r.reconciled ? 0 : 1);
