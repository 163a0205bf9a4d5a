/**
 * Header-only probe of encoded images (SPEC.md §5, §13): format, dimensions
 * and EXIF orientation read from the first bytes, so oversized or malformed
 * uploads are refused before anything is decoded. Pure: no sharp, no I/O.
 */
import { ErrorCode, YoloscaleError } from './errors.js';

/** Largest encoded image accepted, in bytes (20 MB). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** Largest image accepted, in pixels (40 megapixels), judged from the header. */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Image formats the product decodes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** What {@link probeImageHeader} learns from an image's header. */
export interface ImageHeader {
  format: ImageFormat;
  /** Stored width in pixels (before EXIF orientation). */
  width: number;
  /** Stored height in pixels (before EXIF orientation). */
  height: number;
  /** EXIF orientation 1..8 when the JPEG carries one. */
  orientation?: number;
}

function bad(message: string): YoloscaleError {
  return new YoloscaleError(ErrorCode.badImage, message);
}

function truncated(format: string): YoloscaleError {
  return bad(`truncated ${format} header: the image data ends before its dimensions`);
}

function u16be(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}
function u32be(b: Uint8Array, p: number): number {
  return ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}
function u16le(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8);
}
function u24le(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
}
function ascii(b: Uint8Array, p: number, s: string): boolean {
  if (p + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[p + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Reads tag 0x0112 (Orientation) from IFD0 of an EXIF/TIFF block; undefined when absent or malformed. */
function exifOrientation(b: Uint8Array, tiff: number, end: number): number | undefined {
  if (tiff + 8 > end) return undefined;
  const le = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  const be = b[tiff] === 0x4d && b[tiff + 1] === 0x4d;
  if (!le && !be) return undefined;
  const r16 = (p: number) => (le ? u16le(b, p) : u16be(b, p));
  const r32 = (p: number) => (le ? (u16le(b, p) | (u16le(b, p + 2) << 16)) >>> 0 : u32be(b, p));
  if (r16(tiff + 2) !== 42) return undefined;
  const ifd = tiff + r32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return undefined;
    if (r16(entry) === 0x0112) {
      const value = r16(entry + 8);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

function isSof(marker: number): boolean {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function probeJpeg(b: Uint8Array): ImageHeader {
  let p = 2;
  let orientation: number | undefined;
  for (;;) {
    // Markers may be preceded by any number of 0xFF fill bytes.
    if (p >= b.length) throw truncated('JPEG');
    if (b[p] !== 0xff) throw bad(`malformed JPEG: expected a marker at byte ${p}`);
    while (p < b.length && b[p] === 0xff) p++;
    if (p >= b.length) throw truncated('JPEG');
    const marker = b[p++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) throw bad('malformed JPEG: end of image before any frame header');
    if (p + 2 > b.length) throw truncated('JPEG');
    const len = u16be(b, p);
    if (len < 2) throw bad(`malformed JPEG: segment length ${len} at byte ${p}`);
    const end = p + len;
    if (isSof(marker)) {
      if (p + 7 > b.length) throw truncated('JPEG');
      const height = u16be(b, p + 3);
      const width = u16be(b, p + 5);
      if (width === 0 || height === 0) throw bad(`unsupported JPEG: frame header gives ${width}x${height}`);
      return orientation === undefined ? { format: 'jpeg', width, height } : { format: 'jpeg', width, height, orientation };
    }
    if (marker === 0xda) throw bad('malformed JPEG: scan data before any frame header');
    if (marker === 0xe1 && orientation === undefined && ascii(b, p + 2, 'Exif\0\0')) {
      orientation = exifOrientation(b, p + 8, Math.min(end, b.length));
    }
    p = end;
  }
}

function probePng(b: Uint8Array): ImageHeader {
  if (b.length < 24) throw truncated('PNG');
  if (!ascii(b, 12, 'IHDR')) throw bad('malformed PNG: the first chunk is not IHDR');
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  if (width === 0 || height === 0) throw bad(`malformed PNG: IHDR gives ${width}x${height}`);
  return { format: 'png', width, height };
}

function probeWebp(b: Uint8Array): ImageHeader {
  if (b.length < 30) throw truncated('WebP');
  let width: number;
  let height: number;
  if (ascii(b, 12, 'VP8 ')) {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) throw bad('malformed WebP: bad VP8 start code');
    width = u16le(b, 26) & 0x3fff;
    height = u16le(b, 28) & 0x3fff;
  } else if (ascii(b, 12, 'VP8L')) {
    if (b[20] !== 0x2f) throw bad('malformed WebP: bad VP8L signature');
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (ascii(b, 12, 'VP8X')) {
    width = u24le(b, 24) + 1;
    height = u24le(b, 27) + 1;
  } else {
    throw bad('malformed WebP: unknown first chunk');
  }
  if (width === 0 || height === 0) throw bad(`malformed WebP: header gives ${width}x${height}`);
  return { format: 'webp', width, height };
}

/** Names formats we recognise but do not decode, for a 415 instead of a 400. */
function unsupportedName(b: Uint8Array): string | undefined {
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) return 'GIF';
  if (ascii(b, 0, 'BM')) return 'BMP';
  if (ascii(b, 0, 'II*\0') || ascii(b, 0, 'MM\0*')) return 'TIFF';
  if (ascii(b, 4, 'ftyp')) return 'HEIF/AVIF';
  if (ascii(b, 0, '%PDF')) return 'PDF';
  if (ascii(b, 0, '<svg') || ascii(b, 0, '<?xml')) return 'SVG';
  return undefined;
}

/**
 * Reads format, stored dimensions and (JPEG) EXIF orientation from an image's
 * header without decoding it. JPEG frame headers are found by walking the
 * marker segments (APPn skipped; baseline, progressive, lossless and
 * arithmetic SOFs all accepted); PNG from IHDR; WebP from VP8, VP8L or VP8X.
 *
 * @throws YoloscaleError `bad_image` for empty, unknown, malformed or truncated
 *   headers; `unsupported_media_type` for GIF, BMP, TIFF, HEIF/AVIF, PDF, SVG.
 */
export function probeImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length === 0) throw bad('empty image: no bytes');
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return probeJpeg(bytes);
  if (ascii(bytes, 0, '\x89PNG\r\n\x1a\n')) return probePng(bytes);
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return probeWebp(bytes);
  const other = unsupportedName(bytes);
  if (other !== undefined) {
    throw new YoloscaleError(ErrorCode.unsupportedMediaType, `unsupported image format ${other}: send JPEG, PNG or WebP`);
  }
  if (bytes.length < 12) throw bad(`not an image: only ${bytes.length} bytes`);
  throw bad('not a JPEG, PNG or WebP image (unknown signature)');
}

/**
 * Checks an encoded image against {@link MAX_IMAGE_BYTES} and
 * {@link MAX_IMAGE_PIXELS} from its bytes and header alone, and returns the
 * header. Call it before decoding anything.
 *
 * @throws YoloscaleError `too_large` over 20 MB or 40 megapixels, and the
 *   errors of {@link probeImageHeader}.
 */
export function checkImageLimits(bytes: Uint8Array): ImageHeader {
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new YoloscaleError(ErrorCode.tooLarge, `image is ${bytes.length} bytes; the limit is ${MAX_IMAGE_BYTES} bytes (20 MB)`, {
      details: { bytes: bytes.length, maxBytes: MAX_IMAGE_BYTES },
    });
  }
  const header = probeImageHeader(bytes);
  const pixels = header.width * header.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw new YoloscaleError(
      ErrorCode.tooLarge,
      `image is ${header.width}x${header.height} (${(pixels / 1e6).toFixed(1)} megapixels); the limit is 40 megapixels`,
      { details: { width: header.width, height: header.height, maxPixels: MAX_IMAGE_PIXELS } },
    );
  }
  return header;
}

/** True when EXIF orientation `o` swaps width and height (5..8: transposed). */
export function orientationSwapsAxes(o: number | undefined): boolean {
  return o !== undefined && o >= 5 && o <= 8;
}

/** Width and height as displayed, after EXIF orientation. */
export function orientedSize(header: ImageHeader): { width: number; height: number } {
  return orientationSwapsAxes(header.orientation)
    ? { width: header.height, height: header.width }
    : { width: header.width, height: header.height };
}
