// The V8 flags of cluster processes: main-thread marking on small machines, V8's default on request or on big ones.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { clusterV8Flags } from '../../protocol/v8-flags.js';

t.same(clusterV8Flags({}, 2), ['--no-concurrent-marking'], '2 cores: marking on the main thread');
t.same(clusterV8Flags({}, 4), ['--no-concurrent-marking'], '4 cores too');
t.same(clusterV8Flags({}, 8), [], '8 cores: V8 default');
t.same(clusterV8Flags({ YOLOSCALE_V8_CONCURRENT_MARKING: '1' }, 2), [], 'opt out');
t.match(readFileSync(new URL('../../bin/yoloscale.js', import.meta.url), 'utf8'), /for \(const flag of clusterV8Flags\(\)\) setFlagsFromString\(flag\);\s+await import\('\.\.\/dist\/cli\/entry\.js'\)/, 'the command sets them before loading the CLI');
t.match(readFileSync(new URL('../../bench/processes.ts', import.meta.url), 'utf8'), /\[\.\.\.clusterV8Flags\(\)/, 'bench processes start with them');
