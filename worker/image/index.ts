// Public surface of worker/image: decoding and letterboxing into model tensors.
export type { LetterboxSpec, PreparedImage } from './letterbox-spec.js';
export { LIBVIPS_RESIZE_MIN_SHRINK, configureSharpForPool, lastDecode, letterboxLayout, prepareImage, useJpegDecoder } from './prepare.js';
export type { DecodeReport, JpegDecoderChoice, LetterboxLayout } from './prepare.js';
export { turboJpeg } from './turbojpeg.js';
export type { JpegDecodeResult, JpegDecoder, JpegDecoderLoad } from './turbojpeg.js';
