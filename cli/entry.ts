// Process entry of the `yoloscale` command (bin/yoloscale.js loads the compiled copy).
import { idleV8BackgroundThreads } from '../protocol/thread-sched.js';
import { main } from './main.js';

// V8's compiler threads yield to the frame path on small machines (protocol/thread-sched.ts).
idleV8BackgroundThreads();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`yoloscale: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
