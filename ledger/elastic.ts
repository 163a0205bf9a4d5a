/**
 * Elastic plans (SPEC.md §7): a pure decision from a tenant's recent usage.
 * Forecast for the next hour = the larger of the last complete hour's linear
 * trend (`2·h₋₁ − h₋₂`, at least 0) and the current hour's usage projected over
 * the whole hour (once at least ten minutes have passed). The tenant moves up
 * at once when the forecast exceeds its plan, to the smallest plan of its range
 * that covers the forecast (or the range's top); it moves one plan down after
 * three consecutive evaluated hours whose forecast is below the next plan down.
 */
import { HOUR_MS, hourIndex } from './clock.js';
import type { ElasticRange, Plan } from './types.js';

/** Minimum part of the current hour before its usage is projected (10 min). */
export const ELASTIC_PROJECTION_MIN_MS = 600_000;

/** Consecutive low hours before a move down. */
export const ELASTIC_DOWN_AFTER_HOURS = 3;

/** Everything {@link decideElastic} needs; all token figures are net of refunds. */
export interface ElasticInput {
  /** Every plan known to the ledger. */
  plans: readonly Plan[];
  currentPlan: string;
  range: ElasticRange;
  /** Tokens used in the two previous complete hours: `[h₋₂, h₋₁]`. */
  previousHours: readonly [number, number];
  /** Tokens used so far in the current hour. */
  currentHourTokens: number;
  /** Evaluation instant (epoch ms). */
  now: number;
  /** Consecutive low hours counted so far. */
  belowHours: number;
  /** Hour index of the last evaluation, or `null`. */
  evaluatedHour: number | null;
}

/** Outcome of {@link decideElastic}. */
export interface ElasticDecision {
  action: 'up' | 'down' | 'stay';
  fromPlan: string;
  /** Plan after the decision (equal to `fromPlan` for `stay`). */
  toPlan: string;
  /** Forecast tokens for the next hour. */
  forecast: number;
  /** Low-hour streak to store. */
  belowHours: number;
  /** Hour index evaluated (to store). */
  hour: number;
}

/** Forecast of next hour's tokens (see module comment). */
export function forecastNextHour(previousHours: readonly [number, number], currentHourTokens: number, now: number): number {
  const [h2, h1] = previousHours;
  const trend = Math.max(0, 2 * h1 - h2);
  const elapsed = now - hourIndex(now) * HOUR_MS;
  const projected = elapsed >= ELASTIC_PROJECTION_MIN_MS ? (currentHourTokens * HOUR_MS) / elapsed : 0;
  return Math.ceil(Math.max(trend, projected, currentHourTokens));
}

/**
 * Decides whether an elastic tenant moves up, down or stays. Pure.
 * Plans outside the range are never chosen; a current plan outside the range
 * is brought back into it.
 */
export function decideElastic(input: ElasticInput): ElasticDecision {
  const hour = hourIndex(input.now);
  const forecast = forecastNextHour(input.previousHours, input.currentHourTokens, input.now);
  const byName = new Map(input.plans.map((p) => [p.name, p]));
  const min = byName.get(input.range.minPlan);
  const max = byName.get(input.range.maxPlan);
  const current = byName.get(input.currentPlan);
  const stay = (belowHours: number): ElasticDecision => ({
    action: 'stay', fromPlan: input.currentPlan, toPlan: input.currentPlan, forecast, belowHours, hour,
  });
  if (!min || !max || !current || min.tokensPerHour > max.tokensPerHour) return stay(0);
  const ladder = input.plans
    .filter((p) => p.tokensPerHour >= min.tokensPerHour && p.tokensPerHour <= max.tokensPerHour)
    .slice()
    .sort((a, b) => a.tokensPerHour - b.tokensPerHour || a.name.localeCompare(b.name));
  const move = (action: 'up' | 'down', to: Plan): ElasticDecision => ({
    action, fromPlan: input.currentPlan, toPlan: to.name, forecast, belowHours: 0, hour,
  });
  if (current.tokensPerHour < min.tokensPerHour) return move('up', min);
  if (current.tokensPerHour > max.tokensPerHour) return move('down', max);

  if (forecast > current.tokensPerHour) {
    const target = ladder.find((p) => p.tokensPerHour >= forecast) ?? max;
    if (target.tokensPerHour > current.tokensPerHour) return move('up', target);
    return stay(0);
  }
  const below = ladder.filter((p) => p.tokensPerHour < current.tokensPerHour);
  const nextDown = below[below.length - 1];
  if (!nextDown || forecast >= nextDown.tokensPerHour) return stay(0);
  const streak = input.evaluatedHour === hour ? input.belowHours : input.belowHours + 1;
  if (streak >= ELASTIC_DOWN_AFTER_HOURS) return move('down', nextDown);
  return stay(streak);
}

/**
 * Builds the {@link ElasticInput} of a tenant from its stored figures, or
 * `null` when the tenant is not elastic. Token figures are net of refunds.
 */
export function elasticInputFrom(
  tenant: { plan: string; elastic: { minPlan: string; maxPlan: string; belowHours: number; evaluatedHour: string | null } | null },
  plans: readonly Plan[],
  hourly: readonly { hour: string; tokens: number; refunded: number }[],
  now: number,
): ElasticInput | null {
  if (!tenant.elastic) return null;
  const hour = hourIndex(now);
  const net = (h: number): number => {
    let sum = 0;
    for (const b of hourly) if (hourIndex(Date.parse(b.hour)) === h) sum += b.tokens - b.refunded;
    return sum;
  };
  return {
    plans,
    currentPlan: tenant.plan,
    range: { minPlan: tenant.elastic.minPlan, maxPlan: tenant.elastic.maxPlan },
    previousHours: [net(hour - 2), net(hour - 1)],
    currentHourTokens: net(hour),
    now,
    belowHours: tenant.elastic.belowHours,
    evaluatedHour: tenant.elastic.evaluatedHour === null ? null : hourIndex(Date.parse(tenant.elastic.evaluatedHour)),
  };
}
