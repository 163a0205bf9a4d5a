import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';

/** Progress of a download: bytes received and the total when the server said it. */
export interface DownloadProgress {
  received: number;
  total: number | undefined;
}

/** Options of {@link downloadVerified}. */
export interface DownloadOptions {
  url: string;
  /** Final path; written atomically (temp file in the same folder, then rename). */
  dest: string;
  /** Expected SHA-256 (hex). A mismatch deletes the partial file and throws. */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Redirects followed at most (GitHub release assets redirect once or twice). */
  maxRedirects?: number;
  /** Gives up when no byte arrives for this long. */
  idleTimeoutMs?: number;
}

/** Result of a finished, verified download. */
export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
}

function request(url: string, idleTimeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? httpsGet : url.startsWith('http:') ? httpGet : undefined;
    if (!get) {
      reject(new YoloscaleError(ErrorCode.badRequest, `unsupported URL scheme in ${url} (http or https only)`));
      return;
    }
    const req = get(url, { headers: { 'user-agent': 'yoloscale' } }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data from ${url} for ${idleTimeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Downloads `url` to `dest` over HTTP(S), following redirects, reporting
 * progress, hashing while streaming, and renaming into place only when the
 * SHA-256 matches. A failed or corrupted download leaves nothing at `dest`.
 */
export async function downloadVerified(opts: DownloadOptions): Promise<DownloadResult> {
  const maxRedirects = opts.maxRedirects ?? 5;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  let url = opts.url;
  let res: IncomingMessage | undefined;
  for (let hop = 0; ; hop++) {
    res = await request(url, idleTimeoutMs);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) throw new YoloscaleError(ErrorCode.internal, `too many redirects downloading ${opts.url}`);
      url = new URL(res.headers.location, url).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new YoloscaleError(ErrorCode.internal, `download of ${url} failed: HTTP ${status}`);
    }
    break;
  }
  const lengthHeader = Number(res.headers['content-length']);
  const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : undefined;
  await mkdir(dirname(opts.dest), { recursive: true });
  const tmp = join(dirname(opts.dest), `.${process.pid}.${Date.now()}.part`);
  const hash = createHash('sha256');
  let received = 0;
  try {
    const body = res;
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      opts.onProgress?.({ received, total });
    });
    // pipeline rejects on a premature close, so a cut connection cannot hang here.
    await pipeline(body, createWriteStream(tmp));
    if (total !== undefined && received !== total) {
      throw new YoloscaleError(ErrorCode.internal, `download of ${url} truncated: ${received} of ${total} bytes`);
    }
    const digest = hash.digest('hex');
    if (opts.sha256 && digest !== opts.sha256.toLowerCase()) {
      throw new YoloscaleError(ErrorCode.internal, `download of ${url} is corrupted: SHA-256 ${digest} does not match the expected ${opts.sha256}`);
    }
    await rename(tmp, opts.dest);
    return { path: opts.dest, bytes: received, sha256: digest };
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof YoloscaleError) throw err;
    throw new YoloscaleError(ErrorCode.internal, `download of ${url} failed: ${(err as Error).message}`, { cause: err });
  }
}
