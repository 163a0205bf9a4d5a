/**
 * `npm run setup:cuda` (SPEC.md §12): installs the CUDA execution provider
 * libraries built for onnxruntime 1.29.0 beside onnxruntime-node's own
 * library. They come from the npm package
 * `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`
 * (`Plugins/Linux/x64/libonnxruntime_providers_{cuda,shared}.so`), fetched
 * with `npm pack` or taken from a local tarball or unpacked directory. The
 * CUDA runtime, cuBLAS and cuDNN come from the host.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, YoloscaleError, silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';

const run = promisify(execFile);

/** The npm package holding the CUDA provider libraries for onnxruntime 1.29.0. */
export const CUDA_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9';

/** Where the libraries sit inside that package. */
export const CUDA_PACKAGE_LIB_DIR = 'Plugins/Linux/x64';

/** The provider libraries installed. */
export const CUDA_PROVIDER_FILES: readonly string[] = Object.freeze([
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
]);

/** Options of {@link setupCuda}. */
export interface SetupCudaOptions {
  /** A local package tarball (`.tgz`) or an unpacked package directory; default: `npm pack` of {@link CUDA_PACKAGE}. */
  from?: string;
  /** Directory of onnxruntime-node's `libonnxruntime.so.1`; default: found under node_modules. */
  ortDir?: string;
  /** After copying, check that the CUDA provider loads (default true). */
  verify?: boolean;
  logger?: Logger;
}

/** What {@link setupCuda} did. */
export interface SetupCudaReport {
  /** Where the libraries came from. */
  source: string;
  /** Where they were installed. */
  ortDir: string;
  /** Installed files (absolute paths). */
  files: string[];
  /** Whether the CUDA provider loaded afterwards (null when not verified). */
  cudaLoads: boolean | null;
  /** Why it did not load, when verified and it did not. */
  cudaError: string | null;
}

function fail(message: string, cause?: unknown): YoloscaleError {
  return new YoloscaleError(ErrorCode.internal, `setup:cuda: ${message}`, cause === undefined ? {} : { cause });
}

/** Finds onnxruntime-node's Linux x64 binary directory (`bin/napi-v*\/linux/x64`). */
export async function findOrtLibDir(): Promise<string> {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  } catch (err) {
    throw fail('onnxruntime-node is not installed (run npm install first)', err);
  }
  const bin = join(pkg, 'bin');
  const napis = (await readdir(bin).catch(() => [] as string[])).filter((d) => d.startsWith('napi-v')).sort().reverse();
  for (const napi of napis) {
    const dir = join(bin, napi, 'linux', 'x64');
    if (await stat(join(dir, 'libonnxruntime.so.1')).then(() => true, () => false)) return dir;
  }
  throw fail(`no linux/x64 libonnxruntime.so.1 under ${bin}`);
}

async function isElf(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await fh.close();
  }
}

/** Unpacks the two libraries from a package tarball into `dest`; returns the package root. */
async function unpack(tarball: string, dest: string): Promise<string> {
  const members = CUDA_PROVIDER_FILES.map((f) => `package/${CUDA_PACKAGE_LIB_DIR}/${f}`);
  try {
    await run('tar', ['-xzf', tarball, '-C', dest, ...members], { maxBuffer: 1 << 20 });
  } catch (err) {
    throw fail(`${tarball} does not hold ${members.join(' and ')}: ${(err as Error).message.split('\n')[0]}`, err);
  }
  return join(dest, 'package');
}

async function npmPack(dest: string, logger: Logger): Promise<string> {
  logger.info({ package: CUDA_PACKAGE }, `downloading ${CUDA_PACKAGE} with npm pack (about 230 MB)`);
  try {
    const { stdout } = await run('npm', ['pack', CUDA_PACKAGE, '--pack-destination', dest, '--json', '--silent'], {
      cwd: dest,
      maxBuffer: 16 << 20,
    });
    const info = JSON.parse(stdout) as Array<{ filename: string }>;
    const name = info[0]?.filename;
    if (!name) throw new Error('npm pack printed no file name');
    return join(dest, name);
  } catch (err) {
    throw fail(`npm pack ${CUDA_PACKAGE} failed: ${(err as Error).message.split('\n')[0]}`, err);
  }
}

/**
 * Installs the CUDA provider libraries beside onnxruntime-node's library,
 * each written atomically, and (unless `verify: false`) checks whether the
 * CUDA provider now loads on this host.
 */
export async function setupCuda(opts: SetupCudaOptions = {}): Promise<SetupCudaReport> {
  const logger = opts.logger ?? silentLogger;
  const ortDir = opts.ortDir ? resolve(opts.ortDir) : await findOrtLibDir();
  const work = await mkdtemp(join(tmpdir(), 'yoloscale-cuda-'));
  try {
    let root: string;
    let source: string;
    if (opts.from) {
      source = resolve(opts.from);
      const s = await stat(source).catch((err: unknown) => {
        throw fail(`cannot read ${source}: ${(err as Error).message}`, err);
      });
      root = s.isDirectory() ? source : await unpack(source, work);
    } else {
      source = await npmPack(work, logger);
      root = await unpack(source, work);
    }
    const files: string[] = [];
    for (const f of CUDA_PROVIDER_FILES) {
      const src = join(root, CUDA_PACKAGE_LIB_DIR, f);
      if (!(await stat(src).then((s) => s.isFile(), () => false))) throw fail(`${src} is missing from the package`);
      if (!(await isElf(src))) throw fail(`${src} is not a shared library (no ELF header)`);
      const dest = join(ortDir, f);
      const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await copyFile(src, tmp);
        await rename(tmp, dest);
      } catch (err) {
        await rm(tmp, { force: true });
        throw fail(`cannot write ${dest}: ${(err as Error).message}`, err);
      }
      files.push(dest);
      logger.info({ file: dest }, `installed ${f}`);
    }
    let cudaLoads: boolean | null = null;
    let cudaError: string | null = null;
    if (opts.verify !== false) {
      const { probeDevice } = await import('./ort.js');
      try {
        await probeDevice('cuda');
        cudaLoads = true;
      } catch (err) {
        cudaLoads = false;
        cudaError = (err as Error).message;
      }
      logger.info({ cudaLoads, cudaError }, cudaLoads ? 'the CUDA execution provider loads' : 'installed, but CUDA does not load on this host');
    }
    return { source, ortDir, files, cudaLoads, cudaError };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
