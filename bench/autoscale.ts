import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSim } from '../scheduler/autoscaler/index.js';

/**
 * `bench autoscale` (SPEC.md §11): the predictive policy against the HPA
 * baseline on the `surge` and `diurnal` traces with a 3-minute node lead
 * time, side by side in one run. Writes `bench/results/autoscale.json` and one
 * SVG plot per trace beside it.
 */

/** Per-policy figures of SPEC.md §11. */
export interface AutoscalePolicyFigures {
  violationMin: number;
  nodeHours: number;
  utilisation: number;
  peakNodes: number;
}

/** One trace's comparison. */
export interface AutoscaleTraceResult {
  trace: string;
  minutes: number;
  predictive: AutoscalePolicyFigures;
  reactive: AutoscalePolicyFigures;
  /** predictive / reactive SLO-violation minutes (target ≤ 0.5). */
  violationRatio: number;
  /** predictive / reactive node-hours (target ≤ 1.1). */
  nodeHoursRatio: number;
  /** Both targets met. */
  pass: boolean;
  /** File name of the SVG plot beside the JSON. */
  plot: string;
}

/**
 * `bench/results/autoscale.json`: the SPEC fields `{trace, predictive, reactive}`
 * for the first trace at the top level, and every trace under `traces`.
 */
export interface AutoscaleBenchResult {
  trace: string;
  predictive: AutoscalePolicyFigures;
  reactive: AutoscalePolicyFigures;
  leadTimeS: number;
  nodeTokensPerS: number;
  traces: AutoscaleTraceResult[];
  summary: string;
}

/** Options of {@link runAutoscaleBench}. */
export interface AutoscaleBenchOptions {
  /** Traces to compare (default `surge`, `diurnal`). */
  traces?: string[];
  /** Node lead time (default 180 s). */
  leadTimeS?: number;
  /** Output directory (default `bench/results`). */
  outDir?: string;
}

const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), import.meta.url.includes('/dist/') ? '../../bench/results' : 'results');

/** Runs the comparison, writes the JSON and SVGs, returns the result (with a one-line summary). */
export async function runAutoscaleBench(opts: AutoscaleBenchOptions = {}): Promise<AutoscaleBenchResult> {
  const traces = opts.traces ?? ['surge', 'diurnal'];
  const leadTimeS = opts.leadTimeS ?? 180;
  const outDir = opts.outDir ?? DEFAULT_OUT;
  await mkdir(outDir, { recursive: true });
  const rows: AutoscaleTraceResult[] = [];
  let nodeTokensPerS = 0;
  for (const trace of traces) {
    const plot = join(outDir, `autoscale-${trace.replace(/[^a-z0-9_-]/gi, '_')}.svg`);
    const out = await runSim({ trace, policy: 'both', leadTimeS, svgPath: plot });
    nodeTokensPerS = out.nodeTokensPerS;
    const pick = (p: 'predictive' | 'reactive'): AutoscalePolicyFigures => {
      const s = out[p];
      if (!s) throw new Error(`missing ${p} result`);
      return { violationMin: s.violationMin, nodeHours: s.nodeHours, utilisation: s.utilisation, peakNodes: s.peakNodes };
    };
    const predictive = pick('predictive');
    const reactive = pick('reactive');
    const violationRatio = reactive.violationMin > 0 ? predictive.violationMin / reactive.violationMin : predictive.violationMin > 0 ? Infinity : 0;
    const nodeHoursRatio = predictive.nodeHours / reactive.nodeHours;
    rows.push({
      trace: out.trace,
      minutes: out.minutes,
      predictive,
      reactive,
      violationRatio: Math.round(violationRatio * 1000) / 1000,
      nodeHoursRatio: Math.round(nodeHoursRatio * 1000) / 1000,
      pass: violationRatio <= 0.5 && nodeHoursRatio <= 1.1,
      plot: basename(plot),
    });
  }
  const summary = rows
    .map(
      (r) =>
        `${r.trace}: predictive ${r.predictive.violationMin} min / ${r.predictive.nodeHours} node-h vs reactive ${r.reactive.violationMin} min / ${r.reactive.nodeHours} node-h (violations ×${r.violationRatio}, node-h ×${r.nodeHoursRatio}) ${r.pass ? 'PASS' : 'FAIL'}`,
    )
    .join('; ');
  const result: AutoscaleBenchResult = {
    trace: rows[0].trace,
    predictive: rows[0].predictive,
    reactive: rows[0].reactive,
    leadTimeS,
    nodeTokensPerS,
    traces: rows,
    summary,
  };
  await writeFile(join(outDir, 'autoscale.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
