// Process entry of the `yoloscale` command (bin/yoloscale.js loads the compiled copy).
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`yoloscale: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
