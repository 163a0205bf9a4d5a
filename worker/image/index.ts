// Public surface of worker/image: decoding and letterboxing into model tensors.
export type { LetterboxSpec, PreparedImage } from './letterbox-spec.js';
export { LIBVIPS_RESIZE_MIN_SHRINK, configureSharpForPool, letterboxLayout, prepareImage } from './prepare.js';
export type { LetterboxLayout } from './prepare.js';
