// The CI form of the chaos suite (issue #8): one rotation of every fault
// against a real cluster with a real Redis ledger under REST and WebSocket
// traffic of three tenants. `npm run test:chaos -- --minutes N` runs it longer.
import t from 'tap';
import type { Test } from 'tap';
import { FAULTS, runChaos } from './driver.js';

t.setTimeout(240_000); // about 70 s alone; a loaded 2-core host can double it

t.test('chaos - after every fault, each accepted frame is answered or refunded exactly once and balances reconcile', async (t: Test) => {
  const r = await runChaos({ durationMs: 0, log: (line) => t.comment(line) });
  t.comment(`lost ${r.lost}, doubleCharged ${r.doubleCharged}, reconciled ${r.reconciled} (${r.frames} frames charged, ${r.faults} faults)`);
  t.same(r.faultsByKind, Object.fromEntries(FAULTS.map((f) => [f, 1])), 'every fault was injected once');
  t.ok(r.faultLog.filter((f) => f.fault === 'worker-sigkill').every((f) => (f.inFlight ?? 0) > 0), 'the killed worker held frames');
  t.ok(r.frames > 0 && r.answered > 0, 'traffic flowed');
  t.equal(r.lost, 0, `no accepted frame is left neither answered nor refunded: ${r.mismatches.join("; ")}`);
  t.equal(r.doubleCharged, 0, 'no request is charged twice');
  t.equal(r.answeredAndRefunded, 0, 'no frame is both answered and refunded');
  t.ok(r.reconciled, `charged − refunded = delivered for every tenant: ${JSON.stringify(r.tenants)}`);
  for (const tenant of r.tenants) t.ok(tenant.charged - tenant.refunded > 0, `tenant ${tenant.tenantId} was served`);
});
