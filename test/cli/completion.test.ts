// Shell completion: derived from the commands' usage lines, and exercised in
// a real bash (its completion function called as bash's `complete` would) and
// a real zsh (with the completion system's entry points recorded).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { bashCompletion, completionSpec, zshCompletion } from '../../cli/completion.js';
import { COMMANDS } from '../../cli/commands/index.js';
import { BENCHMARKS } from '../../bench/index.js';
import { runCli } from '../helpers/cli.js';

const spec = completionSpec(COMMANDS);
const byName = (n: string) => spec.find((c) => c.name === n);

function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

t.test('completion - the spec follows the usage lines of every command', async (t: Test) => {
  t.same(
    spec.map((c) => c.name),
    COMMANDS.map((c) => c.name),
    'every command',
  );
  t.same(byName('nodes')?.subcommands, ['ls', 'show', 'cordon', 'uncordon', 'retire', 'drain', 'provision']);
  t.same(byName('worker')?.flags['--device'], { kind: 'values', values: ['auto', 'cuda', 'cpu'], files: false });
  t.same(byName('nodes')?.flags['--wait'], { kind: 'switch' });
  t.same(byName('models')?.flags['--models'], { kind: 'file' });
  t.same(byName('sim')?.flags['--trace'], { kind: 'values', values: ['diurnal', 'surge', 'event'], files: true }, 'trace names or a CSV file');
  t.same(byName('bench')?.positionals, BENCHMARKS.map((b) => b.name), 'bench names come from the benchmark list');
  t.same(byName('completion')?.subcommands, ['bash', 'zsh']);
});

t.test('completion - bash completes commands, sub-commands, flags and flag values', { skip: has('bash') ? false : 'bash is not installed' }, async (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'yoloscale.bash');
  writeFileSync(script, bashCompletion(spec));
  const cases: [string[], string][] = [
    [['yoloscale', 'no'], 'nodes'],
    [['yoloscale', 'nodes', ''], 'ls show cordon uncordon retire drain provision'],
    [['yoloscale', '--json', 'nodes', 'cor'], 'cordon'],
    [['yoloscale', '--scheduler', 'http://h:8081', 'tenants', 'k'], 'keys'],
    [['yoloscale', 'worker', '--device', ''], 'auto cuda cpu'],
    [['yoloscale', 'sim', '--policy', ''], 'predictive reactive both'],
    [['yoloscale', 'up', '--max-w'], '--max-workers'],
    [['yoloscale', 'completion', ''], 'bash zsh'],
    [['yoloscale', 'tenants', '--plan', ''], ''],
  ];
  const calls = cases
    .map(([words]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _yoloscale; echo "\${COMPREPLY[*]}"`)
    .join('\n');
  const r = spawnSync('bash', ['--norc', '-c', `source '${script}'\n${calls}`], { encoding: 'utf8', cwd: dir });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  cases.forEach(([words, want], i) => t.equal(lines[i], want, words.join(' ')));
  const reg = spawnSync('bash', ['--norc', '-c', `source '${script}'; complete -p yoloscale`], { encoding: 'utf8' });
  t.match(reg.stdout, /complete -o filenames -F _yoloscale yoloscale/, 'registered for the yoloscale command');
});

t.test('completion - zsh script parses and offers the same words', { skip: has('zsh') ? false : 'zsh is not installed (apt-get install -y zsh)' }, async (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, '_yoloscale');
  writeFileSync(script, zshCompletion(spec));
  t.equal(spawnSync('zsh', ['-n', script]).status, 0, 'zsh -n accepts the script');
  // compsys' entry points replaced by recorders: what would be offered is printed.
  const driver = [
    `compdef() { print -r -- "compdef $*"; }`,
    `_describe() { local name=\${@[-1]}; local -a arr; arr=("\${(@P)name}"); print -r -- "describe \${(j:|:)arr}"; }`,
    `_arguments() { print -r -- "arguments \${(j:|:)@}"; }`,
    `source '${script}'`,
    `words=(yoloscale ''); CURRENT=2; _yoloscale`,
    `words=(yoloscale nodes ''); CURRENT=3; _yoloscale`,
    `words=(yoloscale worker --device ''); CURRENT=4; _yoloscale`,
  ].join('\n');
  const r = spawnSync('zsh', ['-f', '-c', driver], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const [reg, top, nodes, worker] = r.stdout.trim().split('\n');
  t.equal(reg, 'compdef _yoloscale yoloscale', 'registered with compdef');
  for (const c of COMMANDS) t.match(top, new RegExp(`(^describe |\\|)${c.name}:`), `offers ${c.name}`);
  t.match(nodes, /1:sub-command:\(ls show cordon uncordon retire drain provision\)/);
  t.match(nodes, /--wait\[wait\]/);
  t.match(worker, /--device=\[device\]:value:\(auto cuda cpu\)/);
  t.match(worker, /--models=\[models\]:file:_files/);
});

t.test('completion - the command prints either script and refuses other shells', async (t: Test) => {
  const bash = await runCli(['completion', 'bash']);
  t.equal(bash.code, 0);
  t.match(bash.stdout, /complete -o filenames -F _yoloscale yoloscale/);
  const zsh = await runCli(['completion', 'zsh']);
  t.match(zsh.stdout, /^#compdef yoloscale/);
  const fish = await runCli(['completion', 'fish']);
  t.equal(fish.code, 2);
  t.match(fish.stderr, /unknown shell "fish" \(bash or zsh\)\nusage: yoloscale completion bash\|zsh/);
  const none = await runCli(['completion']);
  t.equal(none.code, 2);
});
