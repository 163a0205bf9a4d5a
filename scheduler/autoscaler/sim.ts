import { CapacityModel } from './capacity.js';
import { Forecaster } from './forecaster.js';
import { emptyPlannerMemory, plan, validatePlannerConfig } from './planner.js';
import type { PlannerConfig, PlannerMemory, PlannerNode } from './planner.js';
import type { DemandTrace } from './traces.js';

/**
 * The autoscaling simulator of SPEC.md §9. It replays a demand trace
 * through the real {@link Forecaster} and {@link plan} (the `predictive`
 * policy) or through a Kubernetes HorizontalPodAutoscaler model (the
 * `reactive` baseline: `desired = ceil(current × metric / target)` with the
 * HPA's 10 % tolerance, its default scale-up policy and a 300 s scale-down
 * stabilisation window) on simulated nodes that become ready `leadTimeS`
 * after launch. Both policies see the same metric at the same times: the
 * tokens/s admitted over the last minute. Pure: no clock, no I/O.
 */

/** A scaling policy of the simulator. */
export type SimPolicy = 'predictive' | 'reactive';

/** Options of {@link simulate}; all but `trace` and `policy` optional. */
export interface SimulateOptions {
  trace: DemandTrace;
  policy: SimPolicy;
  /** Seconds from launch to a ready node (default 180). */
  leadTimeS?: number;
  /** Tokens/s one node serves (default 100). */
  nodeTokensPerS?: number;
  /** Simulation step and decision interval of both policies, seconds (default 15). */
  stepS?: number;
  /** Pool bounds (default 1 and 500). */
  min?: number;
  max?: number;
  /** Utilisation the HPA targets (default 0.7: a typical HPA setting). */
  reactiveTargetUtilisation?: number;
  /** Utilisation the predictive planner sizes its forecast upper bound for (default 0.85). */
  predictiveTargetUtilisation?: number;
  /** Predictive planner's idle timeout (default 300 s, the HPA's stabilisation window) and cooldown (default 60 s). */
  idleTimeoutS?: number;
  cooldownS?: number;
  /** The planner's prior for node capacity before it has learned it (default 0.8 × the true capacity). */
  capacityPriorTokensPerS?: number;
  /** Seconds between plotted samples (default: about 1,500 samples over the trace, at least 60 s). */
  sampleEveryS?: number;
}

/** One plotted sample. */
export interface SimSample {
  /** Seconds since the trace start. */
  t: number;
  demand: number;
  /** What the policy provisioned for: the forecast upper bound (predictive) or the HPA's metric (reactive). */
  forecast: number;
  readyCapacity: number;
  nodes: number;
}

/** Figures of one simulated policy. */
export interface SimResult {
  trace: string;
  policy: SimPolicy;
  minutes: number;
  leadTimeS: number;
  nodeTokensPerS: number;
  /** Minutes during which demand exceeded ready capacity. */
  violationMin: number;
  /** Node-hours of every node held (provisioning, ready or draining). */
  nodeHours: number;
  /** Tokens served / tokens the ready nodes could have served. */
  utilisation: number;
  peakNodes: number;
  launches: number;
  drains: number;
  samples: SimSample[];
}

interface SimNode {
  id: string;
  readyAtS: number;
  state: 'provisioning' | 'ready' | 'draining';
  sinceS: number;
}

function check(name: string, v: number, min: number, integer = false): number {
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new RangeError(`options.${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return v;
}

/** Replays `opts.trace` under one policy and reports SLO-violation minutes, node-hours and utilisation. */
export function simulate(opts: SimulateOptions): SimResult {
  const trace = opts.trace;
  if (trace.tokensPerS.length === 0) throw new RangeError('options.trace must hold at least one bucket');
  const leadTimeS = check('leadTimeS', opts.leadTimeS ?? 180, 0);
  const cap = check('nodeTokensPerS', opts.nodeTokensPerS ?? 100, 1e-6);
  const stepS = check('stepS', opts.stepS ?? 15, 1, true);
  if (60 % stepS !== 0) throw new RangeError('options.stepS must divide 60');
  const min = check('min', opts.min ?? 1, 0, true);
  const max = check('max', opts.max ?? 500, Math.max(1, min), true);
  const hpaTarget = check('reactiveTargetUtilisation', opts.reactiveTargetUtilisation ?? 0.7, 0.01);
  const totalS = trace.tokensPerS.length * 60;
  const sampleEveryS = opts.sampleEveryS ?? Math.max(60, Math.ceil(totalS / 1500 / 60) * 60);
  const stepsPerMin = 60 / stepS;

  const nodes: SimNode[] = [];
  let nextId = 0;
  const launch = (n: number, t: number): void => {
    for (let i = 0; i < n; i++) nodes.push({ id: `n${nextId++}`, readyAtS: t + leadTimeS, state: 'provisioning', sinceS: t });
  };
  launch(Math.max(min, Math.ceil(trace.tokensPerS[0] / (cap * hpaTarget))), -leadTimeS); // both start sized for the first minute

  const plannerConfig: PlannerConfig = validatePlannerConfig({
    min,
    max,
    nodeType: 'sim',
    targetUtilisation: opts.predictiveTargetUtilisation ?? 0.85,
    idleTimeoutS: opts.idleTimeoutS ?? 300,
    cooldownS: opts.cooldownS ?? 60,
    queueDrainS: 30,
  });
  const forecaster = new Forecaster({ bucketS: 60 });
  const capacity = new CapacityModel({ defaultTokensPerS: opts.capacityPriorTokensPerS ?? cap * 0.8 });
  let memory: PlannerMemory = emptyPlannerMemory();
  const hpaRecs: { t: number; replicas: number }[] = [];

  let violationS = 0;
  let nodeSeconds = 0;
  let served = 0;
  let readyCapSeconds = 0;
  let peakNodes = 0;
  let launches = 0;
  let drains = 0;
  let lastServedPerS = 0;
  let lastUtil = 0;
  const recent: number[] = []; // demand of the last minute's steps
  const samples: SimSample[] = [];
  let lastForecast = 0;

  for (let step = 0; step * stepS < totalS; step++) {
    const t = step * stepS;
    const minute = Math.floor(t / 60);
    // Nodes become ready; draining nodes finish their in-flight frames within a step.
    for (const n of nodes) if (n.state === 'provisioning' && n.readyAtS <= t) n.state = 'ready';

    if (t > 0 && t % 60 === 0) forecaster.observeBucket('sim', trace.tokensPerS[minute - 1]);
    const metric = recent.length > 0 ? recent.reduce((a, b) => a + b, 0) / recent.length : trace.tokensPerS[0];

    // Decide.
    if (opts.policy === 'predictive') {
      const readyCount = nodes.filter((n) => n.state === 'ready').length;
      if (readyCount > 0) capacity.observe({ type: 'sim', tokensPerS: lastServedPerS / readyCount, utilisation: lastUtil });
      const nowMs = trace.startMs + t * 1000;
      const f = forecaster.forecast(nowMs, leadTimeS + stepS);
      lastForecast = f.total.method === 'none' ? 0 : f.total.peakUpper;
      const plannerNodes: PlannerNode[] = nodes.map((n) => ({ id: n.id, type: 'sim', state: n.state, inFlight: 0, idleSinceMs: undefined }));
      const result = plan(
        {
          nowMs,
          nodes: plannerNodes,
          demandTokensPerS: metric,
          queueTokens: 0,
          utilisation: lastUtil,
          capacity: { sim: capacity.get('sim') },
          forecastUpperTokensPerS: lastForecast,
          memory,
        },
        plannerConfig,
      );
      memory = result.memory;
      for (const a of result.actions) {
        if (a.kind === 'launch') {
          launch(a.count, t);
          launches += a.count;
        } else if (a.kind === 'drain') {
          const n = nodes.find((x) => x.id === a.id);
          if (n) {
            n.state = 'draining';
            drains += 1;
          }
        } else {
          const i = nodes.findIndex((x) => x.id === a.id);
          if (i >= 0) nodes.splice(i, 1);
        }
      }
    } else {
      // Kubernetes HPA (replica_calculator + horizontal.go): pods not yet reporting count as 0
      // when scaling up, so desired = ceil(total metric / per-pod target); 10 % tolerance.
      lastForecast = metric;
      const current = nodes.length;
      const perPodTarget = hpaTarget * cap;
      const ratio = metric / Math.max(1e-9, current * perPodTarget);
      let rec = Math.abs(ratio - 1) <= 0.1 ? current : Math.ceil(metric / perPodTarget);
      rec = Math.min(max, Math.max(min, rec));
      hpaRecs.push({ t, replicas: rec });
      while (hpaRecs.length > 0 && hpaRecs[0].t <= t - 300) hpaRecs.shift();
      let desired = rec;
      if (rec < current) desired = Math.min(current, Math.max(...hpaRecs.map((r) => r.replicas)));
      // Default scale-up policy: at most max(+100 %, +4 pods) per 15 s.
      const upLimit = Math.max(2 * current, current + 4 * Math.max(1, stepS / 15));
      desired = Math.min(desired, upLimit);
      if (desired > current) {
        launch(desired - current, t);
        launches += desired - current;
      } else if (desired < current) {
        // The ReplicaSet controller deletes not-ready pods first, then the youngest.
        let remove = current - desired;
        drains += remove;
        const order = [...nodes].sort((a, b) => (a.state === b.state ? b.sinceS - a.sinceS : a.state === 'provisioning' ? -1 : 1));
        for (const n of order) {
          if (remove === 0) break;
          nodes.splice(nodes.indexOf(n), 1);
          remove -= 1;
        }
      }
    }

    // Serve this step.
    const demand = trace.tokensPerS[minute];
    const readyCap = nodes.filter((n) => n.state === 'ready').length * cap;
    if (demand > readyCap + 1e-9) violationS += stepS;
    const s = Math.min(demand, readyCap);
    served += s * stepS;
    readyCapSeconds += readyCap * stepS;
    nodeSeconds += nodes.length * stepS;
    peakNodes = Math.max(peakNodes, nodes.length);
    lastServedPerS = s;
    lastUtil = readyCap > 0 ? s / readyCap : 0;
    recent.push(demand);
    if (recent.length > stepsPerMin) recent.shift();
    if (t % sampleEveryS === 0) {
      samples.push({ t, demand, forecast: lastForecast, readyCapacity: readyCap, nodes: nodes.length });
    }
  }
  return {
    trace: trace.name,
    policy: opts.policy,
    minutes: trace.tokensPerS.length,
    leadTimeS,
    nodeTokensPerS: cap,
    violationMin: violationS / 60,
    nodeHours: nodeSeconds / 3600,
    utilisation: readyCapSeconds > 0 ? served / readyCapSeconds : 0,
    peakNodes,
    launches,
    drains,
    samples,
  };
}
