/**
 * JPEG decoding through libjpeg-turbo's TurboJPEG C API (the system's
 * libturbojpeg, e.g. Debian's `libturbojpeg0`), called with koffi (FFI with
 * prebuilt binaries: no compiler, no install script). A thin I/O shell: it
 * only decodes to interleaved 8-bit RGB or BGR; `prepare.ts` decides when to
 * use it and falls back to sharp on anything this module declines.
 *
 * Why: sharp's JPEG decode goes through libvips (pipeline set-up, region
 * threading, a copy into a Node buffer) and costs more than OpenCV's whole
 * preprocessing; libjpeg-turbo called directly decodes a 640×480 photo
 * faster than `cv2.imdecode`. The flags are 0, i.e. the accurate integer DCT
 * and fancy upsampling that OpenCV uses too, so the pixels are the ones
 * `cv2.imdecode` produces. Never TJFLAG_FASTDCT, TJFLAG_FASTUPSAMPLE or DCT
 * scaling: they change pixels, and detections must stay faithful to the
 * reference preprocessing.
 *
 * Everything here is per thread (the module is instantiated once per piscina
 * worker thread): the library and one scratch output buffer grown as needed
 * and never zero-filled. The pixels a decode returns are only valid until the
 * next decode on the same thread, so callers must consume them synchronously.
 * Each decode gets a fresh decompress handle (about 1.5 µs): libjpeg keeps
 * quantisation and Huffman tables in the handle across images, so a reused
 * handle would decode a JPEG that lacks them with the previous request's
 * tables, where OpenCV and sharp (fresh decoders) refuse it or use the
 * standard tables.
 *
 * `YOLOSCALE_TURBOJPEG`: path of the library to load instead of the usual
 * names, or `off` to never use it (JPEGs are then decoded by sharp).
 */
import { createRequire } from 'node:module';
import type { RawPixels } from './resample.js';

/** Library names tried in order when `YOLOSCALE_TURBOJPEG` is unset. */
const LIBRARY_NAMES = ['libturbojpeg.so.0', 'libturbojpeg.so', 'libturbojpeg.0.dylib', 'libturbojpeg.dylib', 'turbojpeg.dll'];

/**
 * Largest scratch buffer kept between frames (bytes). Decodes beyond it (rare:
 * large frames mostly take libvips' shrink-on-load path) get a buffer of
 * their own, so one odd frame does not pin tens of megabytes per thread.
 */
const SCRATCH_KEEP_BYTES = 16 * 1024 * 1024;

/** TurboJPEG pixel formats (TJPF_*). */
const TJPF_RGB = 0;
const TJPF_BGR = 1;

/** TurboJPEG JPEG colourspaces (TJCS_*) this module decodes: RGB, YCbCr and grey. CMYK (3) and YCCK (4) are left to sharp. */
const TJCS_NAMES = ['RGB', 'YCbCr', 'GRAY', 'CMYK', 'YCCK'];
const TJCS_HANDLED_MAX = 2;

/** Outcome of one decode: the pixels, or why this decoder declined (the caller falls back). */
export type JpegDecodeResult = { ok: true; px: RawPixels } | { ok: false; reason: string };

/** A JPEG decoder bound to the current thread. */
export interface JpegDecoder {
  /** `turbojpeg (PATH)`, for logs and benches. */
  readonly name: string;
  /**
   * Decodes a whole JPEG at full size into 3-channel interleaved pixels in
   * `order`. The returned `px.data` is this thread's scratch buffer: valid
   * until the next call. Any TurboJPEG error or warning (truncated data,
   * corrupt segments) and colourspaces other than RGB/YCbCr/grey decline.
   */
  decode(bytes: Uint8Array, order: 'rgb' | 'bgr'): JpegDecodeResult;
}

/** The decoder, or why there is none. */
export type JpegDecoderLoad = { ok: true; decoder: JpegDecoder } | { ok: false; reason: string };

type Handle = unknown;
interface TurboJpegApi {
  tjInitDecompress(): Handle;
  tjDecompressHeader3(h: Handle, buf: Uint8Array, len: number, width: Int32Array, height: Int32Array, subsamp: Int32Array, colourspace: Int32Array): number;
  tjDecompress2(h: Handle, buf: Uint8Array, len: number, dst: Uint8Array, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
  tjGetErrorStr2(h: Handle): string;
  tjDestroy(h: Handle): number;
}

interface KoffiLib {
  func(definition: string): unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
}

let loaded: JpegDecoderLoad | undefined;

function bind(lib: KoffiLib): TurboJpegApi {
  // Buffers and typed arrays passed for pointers are handed over without a copy (koffi "transient pointers").
  return {
    tjInitDecompress: lib.func('void *tjInitDecompress()') as TurboJpegApi['tjInitDecompress'],
    tjDecompressHeader3: lib.func(
      'int tjDecompressHeader3(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, int *width, int *height, int *jpegSubsamp, int *jpegColorspace)',
    ) as TurboJpegApi['tjDecompressHeader3'],
    tjDecompress2: lib.func(
      'int tjDecompress2(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, uint8_t *dstBuf, int width, int pitch, int height, int pixelFormat, int flags)',
    ) as TurboJpegApi['tjDecompress2'],
    tjGetErrorStr2: lib.func('const char *tjGetErrorStr2(void *handle)') as TurboJpegApi['tjGetErrorStr2'],
    tjDestroy: lib.func('int tjDestroy(void *handle)') as TurboJpegApi['tjDestroy'],
  };
}

function create(api: TurboJpegApi, path: string): JpegDecoder {
  const ints = new Int32Array(4);
  const [width, height, subsamp, colourspace] = [0, 1, 2, 3].map((i) => ints.subarray(i, i + 1));
  let scratch: Uint8Array = new Uint8Array(0);
  const decodeWith = (handle: Handle, bytes: Uint8Array, order: 'rgb' | 'bgr'): JpegDecodeResult => {
    const fail = (what: string): JpegDecodeResult => ({ ok: false, reason: `${what}: ${api.tjGetErrorStr2(handle)}` });
    if (api.tjDecompressHeader3(handle, bytes, bytes.length, width, height, subsamp, colourspace) !== 0) return fail('tjDecompressHeader3');
    const w = width[0];
    const h = height[0];
    const cs = colourspace[0];
    if (cs < 0 || cs > TJCS_HANDLED_MAX) return { ok: false, reason: `JPEG colourspace ${TJCS_NAMES[cs] ?? cs} is not handled` };
    if (!(w > 0 && h > 0)) return { ok: false, reason: `JPEG header says ${w}x${h}` };
    const need = w * h * 3;
    let dst: Uint8Array;
    if (need <= scratch.length) {
      dst = scratch;
    } else {
      dst = Buffer.allocUnsafeSlow(need);
      if (need <= SCRATCH_KEEP_BYTES) scratch = dst;
    }
    // flags 0: accurate DCT and fancy upsampling, as OpenCV decodes. Nonzero also on warnings (e.g. truncated data).
    if (api.tjDecompress2(handle, bytes, bytes.length, dst, w, 0, h, order === 'rgb' ? TJPF_RGB : TJPF_BGR, 0) !== 0) return fail('tjDecompress2');
    return { ok: true, px: { data: dst.length === need ? dst : dst.subarray(0, need), width: w, height: h, channels: 3 } };
  };
  return {
    name: `turbojpeg (${path})`,
    decode(bytes, order) {
      const handle = api.tjInitDecompress();
      if (handle === null) return { ok: false, reason: 'tjInitDecompress returned NULL' };
      try {
        return decodeWith(handle, bytes, order);
      } finally {
        api.tjDestroy(handle);
      }
    },
  };
}

/**
 * This thread's TurboJPEG decoder, loaded on first call, or the reason there is none: `YOLOSCALE_TURBOJPEG=off`,
 * koffi unavailable on this platform, or no libturbojpeg found. The outcome
 * is cached for the thread's lifetime.
 */
export function turboJpeg(): JpegDecoderLoad {
  if (loaded !== undefined) return loaded;
  const setting = process.env.YOLOSCALE_TURBOJPEG?.trim();
  if (setting === 'off') return (loaded = { ok: false, reason: 'disabled by YOLOSCALE_TURBOJPEG=off' });
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    return (loaded = { ok: false, reason: `koffi could not be loaded: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
  }
  const names = setting ? [setting] : LIBRARY_NAMES;
  const errors: string[] = [];
  for (const name of names) {
    let lib: KoffiLib;
    try {
      lib = koffi.load(name);
    } catch (err) {
      errors.push(`${name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      continue;
    }
    try {
      const api = bind(lib);
      const probe = api.tjInitDecompress();
      if (probe === null) throw new Error('tjInitDecompress returned NULL');
      api.tjDestroy(probe);
      return (loaded = { ok: true, decoder: create(api, name) });
    } catch (err) {
      return (loaded = { ok: false, reason: `${name} loaded but is unusable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    }
  }
  return (loaded = { ok: false, reason: `libturbojpeg not found (${errors.join('; ')})` });
}
