/**
 * Applies the elastic rule to every elastic tenant: what a scheduler runs
 * periodically (for example every few minutes; the move-down streak counts
 * each UTC hour once, however often it runs).
 */
import type { ElasticDecision } from './elastic.js';
import { LedgerNotFoundError } from './errors.js';
import type { Ledger } from './ledger.js';

/** One tenant's outcome in {@link applyElasticPlans}. */
export interface ElasticSweepResult {
  tenantId: string;
  decision: ElasticDecision;
}

/**
 * Evaluates and applies the elastic decision of every tenant that opted in.
 * @returns the decisions, tenants that moved first
 * @throws LedgerUnavailableError when the store cannot be reached
 */
export async function applyElasticPlans(ledger: Pick<Ledger, 'listTenants' | 'applyElastic'>, now?: number): Promise<ElasticSweepResult[]> {
  const out: ElasticSweepResult[] = [];
  for (const tenant of await ledger.listTenants()) {
    if (!tenant.elastic) continue;
    try {
      out.push({ tenantId: tenant.id, decision: await ledger.applyElastic(tenant.id, now) });
    } catch (err) {
      if (!(err instanceof LedgerNotFoundError)) throw err; // deleted meanwhile
    }
  }
  return out.sort((a, b) => Number(b.decision.action !== 'stay') - Number(a.decision.action !== 'stay'));
}
