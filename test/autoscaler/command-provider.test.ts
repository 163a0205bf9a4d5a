import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { CommandProvider } from '../../scheduler/autoscaler/index.js';

/** Operator scripts in the style of a MAAS wrapper: machines kept as lines "id type status" in a state file. */
async function scripts(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-cmd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = join(dir, 'machines');
  await writeFile(state, '');
  const write = async (name: string, body: string) => {
    const f = join(dir, name);
    await writeFile(f, `#!/bin/sh\nset -eu\nSTATE='${state}'\n${body}\n`);
    await chmod(f, 0o755);
    return f;
  };
  const launch = await write(
    'launch.sh',
    `# launch --type T --count N --request-id R
type=$2; count=$4; req=$6
echo "$req" >> "$STATE.calls"
ids=""
i=1
while [ "$i" -le "$count" ]; do
  id="m-$req-$i"
  echo "$id $type running" >> "$STATE"
  ids="$ids\${ids:+,}\\"$id\\""
  i=$((i+1))
done
printf '{"ids":[%s]}\\n' "$ids"`,
  );
  const terminate = await write(
    'terminate.sh',
    `# terminate --request-id R ID...
shift 2
for id in "$@"; do
  grep -q "^$id " "$STATE" || { echo "no machine $id" >&2; exit 4; }
  sed -i "s/^$id \\([a-z0-9-]*\\) .*/$id \\1 terminated/" "$STATE"
done`,
  );
  const list = await write(
    'list.sh',
    `printf '['
first=1
while read -r id type status; do
  [ "$first" = 1 ] || printf ','
  first=0
  printf '{"id":"%s","type":"%s","status":"%s","address":"maas:%s"}' "$id" "$type" "$status" "$id"
done < "$STATE"
printf ']\\n'`,
  );
  const failing = await write('fail.sh', 'echo "MAAS: no machines available in pool gpu" >&2\nexit 2');
  const garbage = await write('garbage.sh', 'echo "Deploying..."');
  const slow = await write('slow.sh', 'sleep 30');
  return { dir, state, launch, terminate, list, failing, garbage, slow };
}

t.test('command provider - launches, lists and terminates through operator scripts, idempotent per request id', async (t) => {
  const s = await scripts(t);
  const p = new CommandProvider({ launch: [s.launch], terminate: [s.terminate], list: [s.list], leadTimeS: 240 });
  t.equal(p.leadTimeS, 240);
  const ids = await p.launch('gpu', 2, 'req-7');
  t.same(ids, ['m-req-7-1', 'm-req-7-2']);
  t.same(await p.launch('gpu', 2, 'req-7'), ids);
  t.equal((await readFile(`${s.state}.calls`, 'utf8')).trim().split('\n').length, 1, 'the script ran once for the repeated request');
  const listed = await p.list();
  t.match(listed, [
    { id: 'm-req-7-1', type: 'gpu', status: 'running', requestId: 'req-7', address: 'maas:m-req-7-1' },
    { id: 'm-req-7-2', status: 'running' },
  ]);
  await p.terminate(['m-req-7-1'], 'term-1');
  t.match(await p.list(), [{ id: 'm-req-7-1', status: 'terminated' }, { id: 'm-req-7-2', status: 'running' }]);
  t.same(p.pollErrors(), []);
  await p.terminate(['nope'], 'term-2');
  t.match(p.pollErrors(), [{ op: 'terminate', code: 'command_failed', requestId: 'term-2', message: /exited with 4: no machine nope/ }]);
});

t.test('command provider - failing, garbled and hung scripts become errors as data', async (t) => {
  const s = await scripts(t);
  const p = new CommandProvider({ launch: [s.failing], terminate: [s.failing], list: [s.garbage], timeoutMs: 500 });
  t.same(await p.launch('gpu', 1, 'a'), []);
  t.match(p.pollErrors(), [{ code: 'command_failed', message: /exited with 2: MAAS: no machines available in pool gpu/ }]);
  t.same(await p.list(), []);
  t.match(p.pollErrors(), [{ code: 'bad_output' }]);
  const garbled = new CommandProvider({ launch: [s.garbage], terminate: [s.slow], list: [s.list], timeoutMs: 500 });
  t.same(await garbled.launch('gpu', 1, 'b'), []);
  t.match(garbled.pollErrors(), [{ code: 'bad_output', message: /\{"ids"/ }]);
  await garbled.terminate(['x'], 'c');
  t.match(garbled.pollErrors(), [{ code: 'command_timeout', op: 'terminate' }]);
  const missing = new CommandProvider({ launch: [join(s.dir, 'nope.sh')], terminate: [s.list], list: [s.list] });
  t.same(await missing.launch('gpu', 1, 'd'), []);
  t.match(missing.pollErrors(), [{ code: 'command_failed', message: /exited with 127/ }]);
  t.throws(() => new CommandProvider({ launch: [], terminate: [s.list], list: [s.list] }), /options\.launch must be a non-empty array/);
});
