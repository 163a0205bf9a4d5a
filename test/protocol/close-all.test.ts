// closeAllSockets (protocol/zmq.ts): a worker thread that exits with a
// zeromq.js socket open aborts the whole process; one that closed them
// first exits cleanly. Real worker threads with real sockets, in a child
// process so that an abort shows as a signal instead of killing tap.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FramePipe, closeAllSockets } from '../../protocol/index.js';

const ZMQ_TS = fileURLToPath(new URL('../../protocol/zmq.ts', import.meta.url));
const TSX_API = import.meta.resolve('tsx/esm/api');

/** A child process whose worker thread binds a ROUTER, then exits with code 3, after closeAllSockets() or not. */
function threadExit(closeFirst: boolean): { status: number | null; signal: NodeJS.Signals | null; stdout: string } {
  const script = `
    import { Worker, isMainThread } from 'node:worker_threads';
    if (isMainThread) {
      const w = new Worker(new URL(import.meta.url));
      w.on('exit', (code) => { console.log('thread exit ' + code); setTimeout(() => console.log('process alive'), 100); });
    } else {
      // Node 20 worker threads do not inherit tsx's hooks (see scheduler/core-thread-dev.mjs).
      const { register } = await import(${JSON.stringify(TSX_API)});
      register();
      const { FramePipe, closeAllSockets } = await import(${JSON.stringify(pathToFileURL(ZMQ_TS).href)});
      const pipe = new FramePipe({ type: 'router', onFrames: () => {} });
      await pipe.bind('tcp://127.0.0.1:0');
      ${closeFirst ? 'closeAllSockets();' : ''}
      process.exit(3);
    }`;
  const dir = mkdtempSync(join(tmpdir(), 'ys-close-all-'));
  try {
    const file = join(dir, 'thread-exit.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a thread that closed its sockets exits cleanly; one that did not takes the process down', async (t) => {
  const closed = threadExit(true);
  t.equal(closed.signal, null, 'no signal');
  t.match(closed.stdout, /thread exit 3[\s\S]*process alive/, 'the thread exits with its code and the process lives on');
  const open = threadExit(false);
  t.equal(open.signal, 'SIGABRT', 'without it, zeromq.js aborts the process (the reason closeAllSockets exists)');
});

t.test('closeAllSockets closes every open pipe once and counts them', async (t) => {
  const a = new FramePipe({ type: 'router', onFrames: () => {} });
  const b = new FramePipe({ type: 'dealer', onFrames: () => {} });
  const c = new FramePipe({ type: 'dealer', onFrames: () => {} });
  const endpoint = await a.bind('tcp://127.0.0.1:0');
  b.connect(endpoint);
  await c.close();
  t.equal(closeAllSockets(), 2, 'the two open pipes; the closed one is not counted');
  t.equal(b.sendFrames([Buffer.from('x')]), false, 'a closed pipe sends nothing');
  t.equal(closeAllSockets(), 0, 'nothing left open');
  await a.close();
  await b.close();
});
