import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import { renderSimSvg } from './plot.js';
import { simulate } from './sim.js';
import type { SimPolicy, SimResult, SimulateOptions } from './sim.js';
import { BUILTIN_TRACES, builtinTrace, parseTraceCsv } from './traces.js';
import type { DemandTrace } from './traces.js';

/**
 * Shell of `yoloscale sim` (SPEC.md §4, §9): loads a built-in or CSV trace,
 * runs the requested policies through {@link simulate} and optionally writes
 * the SVG plot.
 */

/** Options of {@link runSim}. */
export interface RunSimOptions extends Partial<Omit<SimulateOptions, 'trace' | 'policy'>> {
  /** A built-in trace name (`diurnal`, `surge`, `event`) or a CSV file path. */
  trace: string;
  /** Which policies to run (default `both`). */
  policy?: SimPolicy | 'both';
  /** Seed of the built-in traces' noise (default 1). */
  seed?: number;
  /** Where to write the SVG plot (not written when absent). */
  svgPath?: string;
}

/** Summary of one policy as printed by `yoloscale sim --json`. */
export interface SimSummary {
  violationMin: number;
  nodeHours: number;
  utilisation: number;
  peakNodes: number;
  launches: number;
  drains: number;
}

/** Output of {@link runSim}. */
export interface RunSimOutput {
  trace: string;
  minutes: number;
  leadTimeS: number;
  nodeTokensPerS: number;
  predictive?: SimSummary;
  reactive?: SimSummary;
  /** Where the SVG was written, when it was. */
  svgPath?: string;
  /** Full results, samples included (not printed by the CLI). */
  results: SimResult[];
  /** The SVG document. */
  svg: string;
}

/** Loads a trace by built-in name or CSV path; errors are `bad_request`. */
export async function loadTrace(nameOrPath: string, seed = 1): Promise<DemandTrace> {
  if (BUILTIN_TRACES.includes(nameOrPath)) return builtinTrace(nameOrPath, seed);
  let text: string;
  try {
    text = await readFile(nameOrPath, 'utf8');
  } catch (err) {
    throw new YoloscaleError(
      ErrorCode.badRequest,
      `trace "${nameOrPath}" is neither a built-in trace (${BUILTIN_TRACES.join(', ')}) nor a readable CSV file`,
      { cause: err },
    );
  }
  return parseTraceCsv(text, basename(nameOrPath));
}

function summary(r: SimResult): SimSummary {
  const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
  return {
    violationMin: round(r.violationMin),
    nodeHours: round(r.nodeHours),
    utilisation: round(r.utilisation, 4),
    peakNodes: r.peakNodes,
    launches: r.launches,
    drains: r.drains,
  };
}

/** Runs the simulator for the CLI and the bench. */
export async function runSim(opts: RunSimOptions): Promise<RunSimOutput> {
  const policy = opts.policy ?? 'both';
  if (!['predictive', 'reactive', 'both'].includes(policy)) {
    throw new YoloscaleError(ErrorCode.badRequest, 'policy must be predictive, reactive or both');
  }
  const trace = await loadTrace(opts.trace, opts.seed ?? 1);
  const { trace: _t, policy: _p, seed: _s, svgPath, ...simOpts } = opts;
  const policies: SimPolicy[] = policy === 'both' ? ['predictive', 'reactive'] : [policy];
  const results = policies.map((p) => simulate({ ...simOpts, trace, policy: p }));
  const svg = renderSimSvg(results);
  if (svgPath) await writeFile(svgPath, svg);
  const out: RunSimOutput = {
    trace: trace.name,
    minutes: trace.tokensPerS.length,
    leadTimeS: results[0].leadTimeS,
    nodeTokensPerS: results[0].nodeTokensPerS,
    results,
    svg,
  };
  for (const r of results) out[r.policy] = summary(r);
  if (svgPath) out.svgPath = svgPath;
  return out;
}
