// setup:cuda against a locally made package with the real layout (no GPU and
// no 230 MB download here): the libraries land beside onnxruntime-node's.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUDA_PACKAGE, CUDA_PROVIDER_FILES, findOrtLibDir, setupCuda } from '../../worker/engine/setup-cuda.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ys-cuda-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A package tree like the real one, with ELF-headed stand-ins for the libraries. */
function fakePackage(root: string, elf = true): Map<string, Buffer> {
  const libDir = join(root, 'package', 'Plugins', 'Linux', 'x64');
  mkdirSync(libDir, { recursive: true });
  writeFileSync(join(root, 'package', 'package.json'), JSON.stringify({ name: CUDA_PACKAGE.split('@')[0], version: '0.4.9' }));
  const contents = new Map<string, Buffer>();
  for (const f of CUDA_PROVIDER_FILES) {
    const body = Buffer.concat([Buffer.from(elf ? [0x7f, 0x45, 0x4c, 0x46] : [0, 0, 0, 0]), Buffer.from(`fake ${f}`)]);
    writeFileSync(join(libDir, f), body);
    contents.set(f, body);
  }
  writeFileSync(join(libDir, 'libonnxruntime.so'), 'not copied');
  return contents;
}

t.test('setup-cuda - finds onnxruntime-node 1.29 library directory', async (t) => {
  const dir = await findOrtLibDir();
  t.match(dir, /onnxruntime-node\/bin\/napi-v\d+\/linux\/x64$/);
  t.ok(existsSync(join(dir, 'libonnxruntime.so.1')));
});

t.test('setup-cuda - installs both provider libraries from a package tarball', async (t) => {
  const src = tempDir(t);
  const ortDir = tempDir(t);
  const contents = fakePackage(src);
  const tgz = join(src, 'pkg.tgz');
  execFileSync('tar', ['-czf', tgz, '-C', src, 'package']);
  const report = await setupCuda({ from: tgz, ortDir, verify: false });
  t.equal(report.source, tgz);
  t.same(report.files, CUDA_PROVIDER_FILES.map((f) => join(ortDir, f)));
  for (const f of CUDA_PROVIDER_FILES) t.same(readFileSync(join(ortDir, f)), contents.get(f), `${f} copied intact`);
  t.same(readdirSync(ortDir).sort(), [...CUDA_PROVIDER_FILES].sort(), 'only the two libraries, no temporary files');
  t.equal(report.cudaLoads, null, 'not verified when asked not to');
});

t.test('setup-cuda - installs from an unpacked package directory', async (t) => {
  const src = tempDir(t);
  const ortDir = tempDir(t);
  fakePackage(src);
  const report = await setupCuda({ from: join(src, 'package'), ortDir, verify: false });
  t.equal(report.files.length, 2);
});

t.test('setup-cuda - a wrong package gives one clear error and installs nothing', async (t) => {
  const src = tempDir(t);
  const ortDir = tempDir(t);
  mkdirSync(join(src, 'package'));
  writeFileSync(join(src, 'package', 'README'), 'nothing here');
  const tgz = join(src, 'empty.tgz');
  execFileSync('tar', ['-czf', tgz, '-C', src, 'package']);
  await t.rejects(setupCuda({ from: tgz, ortDir, verify: false }), { code: 'internal', message: /setup:cuda: .*empty\.tgz does not hold package\/Plugins\/Linux\/x64\/libonnxruntime_providers_shared\.so/ });
  const notElf = tempDir(t);
  fakePackage(notElf, false);
  await t.rejects(setupCuda({ from: join(notElf, 'package'), ortDir, verify: false }), { message: /is not a shared library/ });
  await t.rejects(setupCuda({ from: join(src, 'absent.tgz'), ortDir, verify: false }), { message: /cannot read/ });
  t.same(readdirSync(ortDir), [], 'nothing installed');
});
