/**
 * The contract between the detection engine and image preparation: how one
 * encoded image becomes a model input tensor, and where it landed inside it.
 */

/**
 * How a model wants its input letterboxed (SPEC.md §3).
 *
 * The image is resized keeping its aspect ratio by `ratio = min(size/H, size/W)`
 * and pasted onto a `size`×`size` canvas filled with `padValue`.
 */
export interface LetterboxSpec {
  /** Side of the square model input, in pixels. */
  size: number;
  /** Channel order of the planar tensor. */
  channelOrder: 'rgb' | 'bgr';
  /** Divisor applied to 0..255 pixel values: 255 gives 0..1, 1 keeps 0..255. */
  scale: 1 | 255;
  /** `top-left`: pad right and bottom only (YOLOX); `centre`: split padding between both sides (Ultralytics). */
  placement: 'top-left' | 'centre';
  /** Pad pixel value before scaling (114 for every built-in model). */
  padValue: number;
  /** Element type of the tensor; float16 is stored as IEEE half bits in a Uint16Array. */
  dtype: 'float32' | 'float16';
}

/** One image prepared per a {@link LetterboxSpec}. */
export interface PreparedImage {
  /** Planar NCHW tensor data for one image, length 3·size·size (float16 as IEEE half bits). */
  data: Float32Array | Uint16Array;
  /** Original width in pixels, after EXIF orientation. */
  width: number;
  /** Original height in pixels, after EXIF orientation. */
  height: number;
  /** Resize ratio: input pixels per original pixel. */
  ratio: number;
  /** Left pad in input pixels. */
  padX: number;
  /** Top pad in input pixels. */
  padY: number;
}
