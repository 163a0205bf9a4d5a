import type { SimResult } from './sim.js';

/**
 * SVG plot of simulator runs: one panel per policy with demand, what the
 * policy provisioned for (forecast upper bound or HPA metric) and ready
 * capacity over time, SLO violations shaded. Pure string building.
 */

const W = 1000;
const PANEL_H = 260;
const PAD = { left: 64, right: 16, top: 28, bottom: 34 };

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
}

function path(points: [number, number][]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
}

/** Renders one panel per result (same time axis) as a standalone SVG document. */
export function renderSimSvg(results: readonly SimResult[]): string {
  const h = PANEL_H * results.length;
  const yMax = Math.max(1, ...results.flatMap((r) => r.samples.map((s) => Math.max(s.demand, s.readyCapacity, s.forecast)))) * 1.05;
  const tMax = Math.max(60, ...results.flatMap((r) => r.samples.map((s) => s.t)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
  ];
  results.forEach((r, i) => {
    const top = i * PANEL_H + PAD.top;
    const ph = PANEL_H - PAD.top - PAD.bottom;
    const pw = W - PAD.left - PAD.right;
    const x = (t: number): number => PAD.left + (t / tMax) * pw;
    const y = (v: number): number => top + ph - (v / yMax) * ph;
    parts.push(
      `<text x="${PAD.left}" y="${top - 10}" font-size="13" font-weight="bold">${esc(
        `${r.trace} · ${r.policy} · lead ${r.leadTimeS}s · SLO violations ${r.violationMin.toFixed(1)} min · ${r.nodeHours.toFixed(1)} node-h · utilisation ${(r.utilisation * 100).toFixed(1)}%`,
      )}</text>`,
      `<rect x="${PAD.left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`,
    );
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      parts.push(
        `<line x1="${PAD.left}" x2="${PAD.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
        `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v)}</text>`,
      );
    }
    const hours = tMax / 3600;
    const tick = hours > 48 ? 24 : hours > 12 ? 6 : 1;
    for (let hh = 0; hh <= hours; hh += tick) {
      parts.push(`<text x="${x(hh * 3600).toFixed(1)}" y="${top + ph + 14}" text-anchor="middle">${hh}h</text>`);
    }
    for (const s of r.samples) {
      if (s.demand > s.readyCapacity) {
        parts.push(`<line x1="${x(s.t).toFixed(1)}" x2="${x(s.t).toFixed(1)}" y1="${top}" y2="${top + ph}" stroke="#f4b6b6"/>`);
      }
    }
    const line = (key: 'demand' | 'forecast' | 'readyCapacity', color: string, dash = ''): void => {
      const pts = r.samples.map((s) => [x(s.t), y(s[key])] as [number, number]);
      parts.push(`<path d="${path(pts)}" fill="none" stroke="${color}" stroke-width="1.2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    };
    line('readyCapacity', '#2a9d3a');
    line('forecast', '#3465a4', '4 3');
    line('demand', '#333');
    const legendY = top + ph + 28;
    const fLabel = r.policy === 'predictive' ? 'forecast upper bound' : 'HPA metric (last minute)';
    [
      ['#333', 'demand tokens/s'],
      ['#3465a4', fLabel],
      ['#2a9d3a', 'ready capacity tokens/s'],
      ['#f4b6b6', 'SLO violation'],
    ].forEach(([c, label], k) => {
      const lx = PAD.left + k * 220;
      parts.push(`<rect x="${lx}" y="${legendY - 8}" width="14" height="4" fill="${c}"/><text x="${lx + 20}" y="${legendY - 3}">${esc(label)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
