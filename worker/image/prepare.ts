/**
 * Encoded image → letterboxed planar tensor, as each model family was
 * trained (SPEC.md §3). Runs inside the engine's piscina threads.
 *
 * Pipeline: header probe and limits (no decoding) → decode → one fused pass
 * doing the OpenCV-exact bilinear resize, channel order, padding, scaling
 * and float32/float16 layout (WebAssembly SIMD, JS as a fallback).
 *
 * Decoders: JPEGs without EXIF rotation are decoded by libjpeg-turbo through
 * its TurboJPEG API (`turbojpeg.ts`) when the system has libturbojpeg: the
 * same decoder and settings as `cv2.imdecode`, so the same pixels, and
 * faster than going through libvips, whose per-image overhead alone costs
 * more than OpenCV's whole preprocessing. Anything TurboJPEG declines (no
 * library, CMYK/YCCK, a warning such as truncated data, any error) and every
 * other image go to sharp: decode with EXIF orientation applied and embedded
 * ICC profiles ignored (OpenCV and PIL, which the models were trained with,
 * ignore them too), whose errors become the `bad_image` messages. JPEG and
 * WebP frames at least three times the model input are instead resized by
 * libvips with shrink-on-load (decoding at a reduced size), and the fused
 * pass only lays them out.
 */
import sharp from 'sharp';
import { ErrorCode, YoloscaleError, checkImageLimits, orientedSize, MAX_IMAGE_PIXELS } from '../../protocol/index.js';
import type { LetterboxSpec, PreparedImage } from './letterbox-spec.js';
import { fillLetterbox } from './resample.js';
import type { RawPixels } from './resample.js';
import { turboJpeg } from './turbojpeg.js';

/**
 * Shrink factor from which JPEG and WebP frames are resized by libvips with
 * shrink-on-load (JPEG DCT scaling by 2, 4 or 8; WebP scaled decoding)
 * instead of the OpenCV-exact fused pass. From 3 on, sharp's
 * `fastShrinkOnLoad` really decodes at a reduced size; below it the full
 * decode is needed anyway and the fused pass matches the reference code.
 */
export const LIBVIPS_RESIZE_MIN_SHRINK = 3;

/** Where the resized image lands in the tensor. */
export interface LetterboxLayout {
  /** Input pixels per original pixel. */
  ratio: number;
  /** Resized image size inside the tensor. */
  newW: number;
  newH: number;
  /** Left and top pad. */
  padX: number;
  padY: number;
}

/** Python's `round()`: half to even. */
function pyRound(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The letterbox geometry for an oriented `width`×`height` image, computed
 * with the same float expressions as the reference code: YOLOX
 * (`top-left`): `r = min(s/h, s/w)`, size `int(w*r)`×`int(h*r)`, no left/top
 * pad; Ultralytics (`centre`): size `round(w*r)`×`round(h*r)`, left pad
 * `round(dw - 0.1)` and top pad `round(dh - 0.1)` where `dw`, `dh` are half
 * the free space.
 */
export function letterboxLayout(width: number, height: number, size: number, placement: LetterboxSpec['placement']): LetterboxLayout {
  const ratio = Math.min(size / height, size / width);
  if (placement === 'top-left') {
    const newW = Math.max(1, Math.min(size, Math.floor(width * ratio)));
    const newH = Math.max(1, Math.min(size, Math.floor(height * ratio)));
    return { ratio, newW, newH, padX: 0, padY: 0 };
  }
  const newW = Math.max(1, Math.min(size, pyRound(width * ratio)));
  const newH = Math.max(1, Math.min(size, pyRound(height * ratio)));
  const padX = pyRound((size - newW) / 2 - 0.1);
  const padY = pyRound((size - newH) / 2 - 0.1);
  return { ratio, newW, newH, padX, padY };
}

const halfF32 = new Float32Array(1);
const halfU32 = new Uint32Array(halfF32.buffer);

/** float → IEEE half bits, round to nearest even (normal range and zero only: enough for pixel values). */
function toHalfBits(v: number): number {
  halfF32[0] = v;
  const x = halfU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (v === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new RangeError(`value ${v} is outside the half range used for pixels`);
  let half = (exp << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

interface SpecTables {
  lut: Float32Array | Uint16Array;
  padElement: number;
  channelPlane: readonly [number, number, number];
}

const tableCache = new Map<string, SpecTables>();

function validateSpec(spec: LetterboxSpec): void {
  if (!Number.isInteger(spec.size) || spec.size < 8 || spec.size > 4096) throw new TypeError('spec.size must be an integer from 8 to 4096');
  if (spec.channelOrder !== 'rgb' && spec.channelOrder !== 'bgr') throw new TypeError("spec.channelOrder must be 'rgb' or 'bgr'");
  if (spec.scale !== 1 && spec.scale !== 255) throw new TypeError('spec.scale must be 1 or 255');
  if (spec.placement !== 'top-left' && spec.placement !== 'centre') throw new TypeError("spec.placement must be 'top-left' or 'centre'");
  if (!Number.isInteger(spec.padValue) || spec.padValue < 0 || spec.padValue > 255) throw new TypeError('spec.padValue must be an integer from 0 to 255');
  if (spec.dtype !== 'float32' && spec.dtype !== 'float16') throw new TypeError("spec.dtype must be 'float32' or 'float16'");
}

function tablesFor(spec: LetterboxSpec): SpecTables {
  const key = `${spec.channelOrder}/${spec.scale}/${spec.padValue}/${spec.dtype}`;
  let t = tableCache.get(key);
  if (t === undefined) {
    const lut = spec.dtype === 'float32' ? new Float32Array(256) : new Uint16Array(256);
    for (let v = 0; v < 256; v++) lut[v] = spec.dtype === 'float32' ? v / spec.scale : toHalfBits(Math.fround(v / spec.scale));
    t = {
      lut,
      padElement: lut[spec.padValue],
      channelPlane: spec.channelOrder === 'rgb' ? [0, 1, 2] : [2, 1, 0],
    };
    tableCache.set(key, t);
  }
  return t;
}

let sharpConfigured = false;

/**
 * Process-wide sharp settings for preprocessing in a thread pool: no libvips
 * operation cache (every frame is new) and one libvips thread per image, so
 * parallelism comes from the pool's threads rather than oversubscribing the
 * cores. Called by {@link prepareImage} on first use; idempotent.
 */
export function configureSharpForPool(): void {
  if (sharpConfigured) return;
  sharpConfigured = true;
  sharp.cache(false);
  sharp.concurrency(1);
}

/** Which decoder {@link prepareImage} may use for JPEGs: `auto` (TurboJPEG when available, else sharp) or `sharp` only. */
export type JpegDecoderChoice = 'auto' | 'sharp';

let jpegChoice: JpegDecoderChoice = 'auto';

/**
 * Sets this thread's JPEG decoder choice and returns the previous one:
 * benches and tests compare both paths in one process
 * (`YOLOSCALE_TURBOJPEG=off` keeps a whole process on sharp).
 */
export function useJpegDecoder(choice: JpegDecoderChoice): JpegDecoderChoice {
  if (choice !== 'auto' && choice !== 'sharp') throw new TypeError("choice must be 'auto' or 'sharp'");
  const previous = jpegChoice;
  jpegChoice = choice;
  return previous;
}

/** Which decoder produced an image's pixels. */
export interface DecodeReport {
  decoder: 'turbojpeg' | 'sharp';
  /** Why TurboJPEG did not decode a JPEG it could have taken (unavailable, declined, chosen away), so sharp did. */
  declined?: string;
}

let lastReport: DecodeReport = { decoder: 'sharp' };

/** The decoder of this thread's last {@link prepareImage} call that reached decoding (for tests and benches). */
export function lastDecode(): DecodeReport {
  return lastReport;
}

/**
 * Decodes a JPEG with TurboJPEG into this thread's scratch buffer, in the
 * tensor's channel order (free at decode time; the fused pass then maps
 * channel i to plane i). Returns the pixels and their channel → plane map,
 * or why sharp has to decode instead.
 */
function decodeTurboJpeg(
  bytes: Uint8Array,
  width: number,
  height: number,
  spec: LetterboxSpec,
  tables: SpecTables,
): { px: RawPixels; channelPlane: readonly [number, number, number] } | string {
  const tj = turboJpeg();
  if (!tj.ok) return tj.reason;
  const bgr = spec.channelOrder === 'bgr';
  const r = tj.decoder.decode(bytes, bgr ? 'bgr' : 'rgb');
  if (!r.ok) return r.reason;
  if (r.px.width !== width || r.px.height !== height) return `TurboJPEG decoded ${r.px.width}x${r.px.height}, the header probe says ${width}x${height}`;
  return { px: r.px, channelPlane: bgr ? [0, 1, 2] : tables.channelPlane };
}

function decodeError(err: unknown): YoloscaleError {
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new YoloscaleError(ErrorCode.badImage, `image could not be decoded: ${detail}`, { cause: err });
}

/** Decodes with sharp (libvips), oriented per EXIF and, for large frames, already resized with shrink-on-load. */
async function decodeSharp(bytes: Uint8Array, oriented: boolean, libvipsResize: boolean, geo: LetterboxLayout): Promise<RawPixels> {
  try {
    let pipeline = sharp(bytes, {
      ignoreIcc: true,
      autoOrient: oriented,
      limitInputPixels: MAX_IMAGE_PIXELS,
      failOn: 'truncated',
    });
    if (libvipsResize) {
      pipeline = pipeline.resize(geo.newW, geo.newH, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
    }
    // Grey (and grey+alpha) images become RGB here, so the fused pass only meets 3 or 4 channels.
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err) {
    throw decodeError(err);
  }
}

/**
 * Decodes `bytes` (JPEG, PNG or WebP) and letterboxes it into a planar NCHW
 * tensor per `spec` (one image, 3·size·size elements), reusing `out` when
 * given. The image is oriented per its EXIF tag first: `width`, `height`,
 * `ratio` and the pads refer to the oriented image, so boxes mapped back
 * with them land in the oriented image's pixels.
 *
 * @throws YoloscaleError `too_large` (over 20 MB or 40 megapixels, from the
 *   header, before decoding), `bad_image` (empty, truncated, undecodable),
 *   `unsupported_media_type` (a known format other than JPEG/PNG/WebP).
 * @throws TypeError for an invalid `spec` or an `out` of the wrong type or length.
 */
export async function prepareImage(bytes: Uint8Array, spec: LetterboxSpec, out?: Float32Array | Uint16Array): Promise<PreparedImage> {
  validateSpec(spec);
  const tables = tablesFor(spec);
  const length = 3 * spec.size * spec.size;
  if (out !== undefined) {
    const okType = spec.dtype === 'float32' ? out instanceof Float32Array : out instanceof Uint16Array;
    if (!okType || out.length !== length) {
      throw new TypeError(`out must be a ${spec.dtype === 'float32' ? 'Float32Array' : 'Uint16Array'} of length ${length}`);
    }
  }
  const header = checkImageLimits(bytes);
  configureSharpForPool();
  const { width, height } = orientedSize(header);
  const geo = letterboxLayout(width, height, spec.size, spec.placement);
  const oriented = header.orientation !== undefined && header.orientation > 1;
  const shrink = Math.min(width / geo.newW, height / geo.newH);
  const libvipsResize = header.format !== 'png' && shrink >= LIBVIPS_RESIZE_MIN_SHRINK;

  let px: RawPixels | undefined;
  let channelPlane = tables.channelPlane;
  let declined: string | undefined;
  if (header.format === 'jpeg' && !oriented && !libvipsResize) {
    // Synchronous from here to fillLetterbox: TurboJPEG's pixels live in a per-thread scratch buffer that the next decode reuses.
    const tj = jpegChoice === 'auto' ? decodeTurboJpeg(bytes, width, height, spec, tables) : 'sharp chosen by useJpegDecoder';
    if (typeof tj === 'string') declined = tj;
    else ({ px, channelPlane } = tj);
  }
  lastReport = px !== undefined ? { decoder: 'turbojpeg' } : { decoder: 'sharp', ...(declined !== undefined ? { declined } : {}) };
  if (px === undefined) px = await decodeSharp(bytes, oriented, libvipsResize, geo);
  if (px.width * px.height * px.channels > px.data.length || px.channels < 3 || px.channels > 4) {
    throw new YoloscaleError(ErrorCode.badImage, `image decoded to an unexpected layout (${px.width}x${px.height}x${px.channels})`);
  }
  const wantW = libvipsResize ? geo.newW : width;
  const wantH = libvipsResize ? geo.newH : height;
  if (px.width !== wantW || px.height !== wantH) {
    throw new YoloscaleError(ErrorCode.badImage, `image header says ${width}x${height} but it decoded to ${px.width}x${px.height} (expected ${wantW}x${wantH})`);
  }
  const data = out ?? (spec.dtype === 'float32' ? new Float32Array(length) : new Uint16Array(length));
  fillLetterbox(
    px,
    {
      size: spec.size,
      newW: geo.newW,
      newH: geo.newH,
      padX: geo.padX,
      padY: geo.padY,
      channelPlane,
      scale: spec.scale,
      lut: tables.lut,
      padElement: tables.padElement,
      padValue: spec.padValue,
    },
    data,
  );
  return { data, width, height, ratio: geo.ratio, padX: geo.padX, padY: geo.padY };
}
