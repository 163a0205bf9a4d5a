// Bare ZeroMQ ROUTER for the scheduler benchmark: answers every message
// with a fixed reply of the cluster's reply size, no codec work.
import { FramePipe } from '../../protocol/index.js';
import { idleV8BackgroundThreads } from '../../protocol/thread-sched.js';

// V8's compiler threads yield to the frame path, as `yoloscale` does (cli/entry.ts, protocol/thread-sched.ts).
idleV8BackgroundThreads();

const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as { replyFrames?: string[] };
const reply = (opts.replyFrames ?? ['YS02', 'ok']).map((b64) => Buffer.from(b64, 'base64'));
const pipe: FramePipe = new FramePipe({ type: 'router', name: 'transport-echo', onFrames: (frames) => void pipe.sendFrames([frames[0], ...reply]) });
const endpoint = await pipe.bind('tcp://127.0.0.1:0');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint })}\n`);
process.once('SIGTERM', () => {
  pipe.close().then(() => process.exit(0), () => process.exit(1));
});
