/**
 * Draws a detection result onto its image: one coloured rectangle per
 * detection and a `class score` label above it, returned as JPEG. Used for
 * `Accept: image/jpeg` on the gateway and `detect --annotate` in the CLI.
 */
import sharp from 'sharp';
import { ErrorCode, YoloscaleError, checkImageLimits, orientedSize } from '../protocol/index.js';
import type { DetectionResult } from '../protocol/index.js';

/** Options of {@link annotateImage}. */
export interface AnnotateOptions {
  /** JPEG quality 1..100 (default 90). Chroma is not subsampled, so thin coloured lines stay crisp. */
  quality?: number;
}

// Ultralytics' 20-colour palette, indexed by class id.
const PALETTE = [
  '#FF3838', '#FF9D97', '#FF701F', '#FFB21D', '#CFD231', '#48F90A', '#92CC17', '#3DDB86', '#1A9334', '#00D4BB',
  '#2C99A8', '#00C2FF', '#344593', '#6473FF', '#0018EC', '#8438FF', '#520085', '#CB38FF', '#FF95C8', '#FF37C7',
];

/** The drawing colour of a class id (stable across calls). */
export function classColour(classId: number): string {
  const i = Number.isInteger(classId) && classId >= 0 ? classId % PALETTE.length : 0;
  return PALETTE[i];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function overlaySvg(width: number, height: number, result: DetectionResult): string {
  const sx = result.image.width > 0 ? width / result.image.width : 1;
  const sy = result.image.height > 0 ? height / result.image.height : 1;
  const line = Math.max(2, Math.round(Math.min(width, height) / 300));
  const font = Math.max(11, Math.round(Math.min(width, height) / 45));
  const parts: string[] = [];
  for (const d of result.detections) {
    const x1 = Math.max(0, Math.min(width, d.box.x1 * sx));
    const y1 = Math.max(0, Math.min(height, d.box.y1 * sy));
    const x2 = Math.max(0, Math.min(width, d.box.x2 * sx));
    const y2 = Math.max(0, Math.min(height, d.box.y2 * sy));
    if (!(x2 > x1 && y2 > y1)) continue;
    const colour = classColour(d.classId);
    const label = escapeXml(`${d.class} ${d.score.toFixed(2)}`);
    const labelW = Math.round(label.length * font * 0.6 + 6);
    const labelH = font + 6;
    const ly = y1 - labelH >= 0 ? y1 - labelH : y1;
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${(x2 - x1).toFixed(1)}" height="${(y2 - y1).toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${line}"/>`,
      `<rect x="${x1.toFixed(1)}" y="${ly.toFixed(1)}" width="${labelW}" height="${labelH}" fill="${colour}"/>`,
      `<text x="${(x1 + 3).toFixed(1)}" y="${(ly + font + 1).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#FFFFFF">${label}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/**
 * Decodes `bytes`, applies its EXIF orientation (boxes are in the oriented
 * image's pixels, as the engine reports them), draws every detection of
 * `result` and encodes the picture as JPEG. Boxes are scaled by the ratio
 * of the decoded size to `result.image` in case they differ.
 *
 * @throws YoloscaleError `too_large`, `bad_image` or `unsupported_media_type`
 *   for images the engine would refuse too.
 */
export async function annotateImage(bytes: Uint8Array, result: DetectionResult, opts: AnnotateOptions = {}): Promise<Buffer> {
  const quality = opts.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new TypeError('options.quality must be an integer from 1 to 100');
  const header = checkImageLimits(bytes);
  const { width, height } = orientedSize(header);
  const svg = overlaySvg(width, height, result);
  try {
    // Orient exactly when the engine does (from the header), so boxes and pixels share one space.
    return await sharp(bytes, { autoOrient: (header.orientation ?? 1) > 1 })
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      .toColourspace('srgb')
      .jpeg({ quality, chromaSubsampling: '4:4:4' })
      .toBuffer();
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new YoloscaleError(ErrorCode.badImage, `image could not be decoded: ${detail}`, { cause: err });
  }
}
