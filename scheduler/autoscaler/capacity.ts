/**
 * Capacity per node type learned from observed throughput (SPEC.md §9).
 * A node serving `tokensPerS` at utilisation `u` (busy fraction of its
 * slots) could serve about `tokensPerS / u` when saturated; the model keeps
 * an exponentially weighted average of those estimates per node type,
 * starting from a configured prior. Pure data structure, no I/O.
 */

/** One throughput observation of one node (or of all nodes of a type averaged). */
export interface CapacityObservation {
  /** Node type. */
  type: string;
  /** Tokens/s the node served over the observation interval. */
  tokensPerS: number;
  /** Fraction of the node's slots busy over the same interval, 0–1. */
  utilisation: number;
}

/** Options of {@link CapacityModel}; all optional. */
export interface CapacityModelOptions {
  /** Prior tokens/s per node for each type (until observations arrive). */
  priors?: Record<string, number>;
  /** Prior for types without one (default 50 tokens/s). */
  defaultTokensPerS?: number;
  /** Weight of each new estimate (default 0.2). */
  alpha?: number;
  /** Observations below this utilisation say too little about saturation and are ignored (default 0.2). */
  minUtilisation?: number;
}

/** What the model believes about one node type. */
export interface CapacityEstimate {
  tokensPerS: number;
  /** Observations absorbed (0: still the prior). */
  samples: number;
}

/** Learned tokens/s per node, per node type. */
export class CapacityModel {
  readonly #estimates = new Map<string, CapacityEstimate>();
  readonly #default: number;
  readonly #alpha: number;
  readonly #minUtil: number;

  constructor(options: CapacityModelOptions = {}) {
    const d = options.defaultTokensPerS ?? 50;
    if (!Number.isFinite(d) || d <= 0) throw new RangeError('options.defaultTokensPerS must be a positive number');
    const alpha = options.alpha ?? 0.2;
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError('options.alpha must be in (0, 1]');
    const minUtil = options.minUtilisation ?? 0.2;
    if (!(minUtil > 0 && minUtil <= 1)) throw new RangeError('options.minUtilisation must be in (0, 1]');
    this.#default = d;
    this.#alpha = alpha;
    this.#minUtil = minUtil;
    for (const [type, v] of Object.entries(options.priors ?? {})) {
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`options.priors.${type} must be a positive number`);
      this.#estimates.set(type, { tokensPerS: v, samples: 0 });
    }
  }

  /** Absorbs one observation; returns false when it was ignored (too little load, or not finite). */
  observe(obs: CapacityObservation): boolean {
    const { tokensPerS, utilisation } = obs;
    if (!Number.isFinite(tokensPerS) || !Number.isFinite(utilisation) || tokensPerS <= 0) return false;
    if (utilisation < this.#minUtil) return false;
    const sample = tokensPerS / Math.min(1, utilisation);
    const cur = this.#estimates.get(obs.type);
    if (!cur || cur.samples === 0) {
      // The first real sample replaces the prior half-way: priors are guesses.
      const prior = cur?.tokensPerS ?? this.#default;
      this.#estimates.set(obs.type, { tokensPerS: (prior + sample) / 2, samples: 1 });
    } else {
      cur.tokensPerS = this.#alpha * sample + (1 - this.#alpha) * cur.tokensPerS;
      cur.samples += 1;
    }
    return true;
  }

  /** Tokens/s one node of `type` is believed to serve. */
  get(type: string): number {
    return this.#estimates.get(type)?.tokensPerS ?? this.#default;
  }

  /** Every known type's estimate (a copy). */
  snapshot(): Record<string, CapacityEstimate> {
    const out: Record<string, CapacityEstimate> = {};
    for (const [k, v] of this.#estimates) out[k] = { ...v };
    return out;
  }
}
