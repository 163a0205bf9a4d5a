/**
 * Reads a YOLO-format dataset (SPEC.md §4): `DIR/images/**` holds JPEG, PNG
 * or WebP files and `DIR/labels/**` one text file per image with the same
 * base name in the mirrored sub-folder, one object per line:
 * `class cx cy w h`, normalised to 0..1 (a polygon `class x1 y1 x2 y2 …`
 * gives its bounding box). An image without a label file has no objects.
 * Boxes are converted to pixels of the EXIF-oriented image, the space the
 * engine reports detections in.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { ErrorCode, YoloscaleError, orientedSize, probeImageHeader } from '../../protocol/index.js';
import type { GroundTruthBox } from './map.js';

/** Image file extensions a dataset may hold (lower case). */
export const DATASET_IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.jpg', '.jpeg', '.png', '.webp']);

/** One labelled image of a dataset. */
export interface LabelledImage {
  /** Absolute path of the image file. */
  path: string;
  /** Path below `DIR/images`, with `/` separators. */
  name: string;
  /** Oriented image size in pixels. */
  width: number;
  height: number;
  /** Ground-truth boxes in oriented-image pixels. */
  gt: GroundTruthBox[];
}

async function listImages(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    // Datasets are often assembled from symbolic links: follow them.
    const kind = e.isSymbolicLink() ? await stat(p).catch(() => undefined) : e;
    if (!kind) continue;
    if (kind.isDirectory()) await listImages(root, p, out);
    else if (kind.isFile() && DATASET_IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(relative(root, p));
  }
}

/**
 * Parses one YOLO label file's text into pixel boxes for a `width`×`height`
 * image. Blank lines are skipped.
 *
 * @throws YoloscaleError `bad_request` naming `source` and the line for a
 *   malformed line (non-numeric fields, a bad class id, a wrong field count).
 */
export function parseYoloLabels(text: string, width: number, height: number, source = 'labels'): GroundTruthBox[] {
  const boxes: GroundTruthBox[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const f = line.split(/\s+/).map(Number);
    const where = `${source}:${i + 1}`;
    if (f.some((v) => !Number.isFinite(v))) throw new YoloscaleError(ErrorCode.badRequest, `${where}: fields must be numbers`);
    const classId = f[0];
    if (!Number.isInteger(classId) || classId < 0) throw new YoloscaleError(ErrorCode.badRequest, `${where}: class id must be a non-negative integer`);
    let x1: number;
    let y1: number;
    let x2: number;
    let y2: number;
    if (f.length === 5) {
      const [, cx, cy, w, h] = f;
      x1 = cx - w / 2;
      y1 = cy - h / 2;
      x2 = cx + w / 2;
      y2 = cy + h / 2;
    } else if (f.length >= 7 && f.length % 2 === 1) {
      const xs = f.filter((_, k) => k > 0 && k % 2 === 1);
      const ys = f.filter((_, k) => k > 0 && k % 2 === 0);
      x1 = Math.min(...xs);
      x2 = Math.max(...xs);
      y1 = Math.min(...ys);
      y2 = Math.max(...ys);
    } else {
      throw new YoloscaleError(ErrorCode.badRequest, `${where}: expected "class cx cy w h" (or a polygon), got ${f.length} fields`);
    }
    boxes.push({ classId, box: { x1: x1 * width, y1: y1 * height, x2: x2 * width, y2: y2 * height } });
  }
  return boxes;
}

/**
 * Loads every image of `DIR/images` (recursively, sorted by path) with its
 * ground truth from `DIR/labels`. Image sizes come from the headers alone.
 *
 * @throws YoloscaleError `bad_request` when `DIR/images` is missing or holds
 *   no image, or a label line is malformed; `bad_image` and friends for an
 *   image whose header cannot be read (the message names the file).
 */
export async function loadYoloDataset(dir: string): Promise<LabelledImage[]> {
  const imagesDir = join(dir, 'images');
  const labelsDir = join(dir, 'labels');
  const names: string[] = [];
  try {
    await listImages(imagesDir, imagesDir, names);
  } catch (err) {
    throw new YoloscaleError(ErrorCode.badRequest, `cannot read ${imagesDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (names.length === 0) throw new YoloscaleError(ErrorCode.badRequest, `no JPEG, PNG or WebP images under ${imagesDir}`);
  const out: LabelledImage[] = [];
  for (const rel of names) {
    const path = join(imagesDir, rel);
    const bytes = await readFile(path);
    let size: { width: number; height: number };
    try {
      size = orientedSize(probeImageHeader(bytes));
    } catch (err) {
      if (err instanceof YoloscaleError) throw new YoloscaleError(err.code, `${path}: ${err.message}`, { cause: err });
      throw err;
    }
    const labelPath = join(labelsDir, rel.slice(0, rel.length - extname(rel).length) + '.txt');
    let text = '';
    try {
      text = await readFile(labelPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    out.push({ path, name: rel.split(sep).join('/'), ...size, gt: parseYoloLabels(text, size.width, size.height, labelPath) });
  }
  return out;
}
