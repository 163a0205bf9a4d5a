// The V8 flags of cluster processes: main-thread marking and single-threaded GC on small machines, V8's default on request or on big ones.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { clusterExecArgv, clusterNodeFlags, clusterV8Flags } from '../../protocol/v8-flags.js';

t.test('v8 flags - set at run time', async (t) => {
  t.same(clusterV8Flags({}, 2), ['--no-concurrent-marking', '--no-parallel-scavenge'], '2 cores: marking and scavenging on the main thread');
  t.same(clusterV8Flags({}, 4), ['--no-concurrent-marking', '--no-parallel-scavenge'], '4 cores too');
  t.same(clusterV8Flags({}, 8), [], '8 cores: V8 default');
  t.same(clusterV8Flags({ YOLOSCALE_V8_CONCURRENT_MARKING: '1' }, 2), ['--no-parallel-scavenge'], 'concurrent marking opted out of');
  t.same(clusterV8Flags({ YOLOSCALE_V8_PARALLEL_GC: '1' }, 2), ['--no-concurrent-marking'], 'parallel GC opted out of');
  t.match(readFileSync(new URL('../../bin/yoloscale.js', import.meta.url), 'utf8'), /for \(const flag of clusterV8Flags\(\)\) setFlagsFromString\(flag\);\s+await import\('\.\.\/dist\/cli\/entry\.js'\)/, 'the command sets them before loading the CLI');
});

t.test('v8 flags - on the command line of the processes the cluster starts', async (t) => {
  t.same(clusterNodeFlags({}, 2), ['--single-threaded-gc', '--no-memory-reducer']);
  t.same(clusterNodeFlags({}, 8), []);
  t.same(clusterNodeFlags({ YOLOSCALE_V8_PARALLEL_GC: '1' }, 2), ['--no-memory-reducer'], 'parallel GC opted out of');
  t.same(clusterNodeFlags({ YOLOSCALE_V8_MEMORY_REDUCER: '1' }, 2), ['--single-threaded-gc'], 'memory reducer kept');
  t.same(clusterExecArgv(['--enable-source-maps'], {}, 2), ['--enable-source-maps', '--single-threaded-gc', '--no-memory-reducer'], 'added to the parent’s own arguments');
  t.same(clusterExecArgv(['--single-threaded-gc', '--no-memory-reducer'], {}, 2), ['--single-threaded-gc', '--no-memory-reducer'], 'not twice');
  t.same(clusterExecArgv(['--inspect'], {}, 8), ['--inspect'], 'big machine: the parent’s arguments only');
  t.match(readFileSync(new URL('../../bench/processes.ts', import.meta.url), 'utf8'), /\[\.\.\.clusterNodeFlags\(\), \.\.\.clusterV8Flags\(\)/, 'bench processes start with both');
});

t.test('v8 flags - a process started with them runs major collections (the run-time set stays safe)', async (t) => {
  // Switching --single-threaded-gc on a running heap aborts V8 at the next mark-compact; on the command line, and with the run-time flags on top, it must not.
  const script = `const v8 = require('node:v8');
    for (const f of ${JSON.stringify(clusterV8Flags({}, 2))}) v8.setFlagsFromString(f);
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i }); if (keep.length > 1e5) keep = []; }
    globalThis.gc();
    process.stdout.write('ok');`;
  const r = spawnSync(process.execPath, [...clusterNodeFlags({}, 2), '--expose-gc', '-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr.slice(0, 500));
  t.equal(r.stdout, 'ok');
});
