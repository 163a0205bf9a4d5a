import type { CliIO } from './context.js';

/**
 * A one-line progress bar on stderr for a terminal (redrawn in place), or a
 * line every 10% when stderr is not a terminal.
 */
export function progressReporter(io: CliIO, label: string): (received: number, total: number | undefined) => void {
  const tty = Boolean((io.stderr as NodeJS.WriteStream).isTTY);
  let lastDecile = -1;
  let lastDraw = 0;
  return (received, total) => {
    const mb = (n: number) => (n / 1_048_576).toFixed(1);
    const frac = total ? Math.min(1, received / total) : undefined;
    if (tty) {
      const now = Date.now();
      if (now - lastDraw < 100 && received !== total) return;
      lastDraw = now;
      const width = 30;
      const bar = frac === undefined ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% `;
      io.stderr.write(`\r${label} ${bar}${mb(received)}${total ? `/${mb(total)}` : ''} MB`);
      if (received === total) io.stderr.write('\n');
    } else if (frac !== undefined) {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        io.stderr.write(`${label} ${decile * 10}% (${mb(received)}/${mb(total as number)} MB)\n`);
      }
    }
  };
}
