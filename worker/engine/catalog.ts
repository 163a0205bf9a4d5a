/**
 * The model catalog on disk: built-in models plus user models registered in
 * `<modelsDir>/models.json`, where each file is looked for, and the one-line
 * errors for unknown and missing models.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import { inspectModel, ModelInspectionError } from './detect-family.js';
import type { ModelInspection } from './detect-family.js';
import { BUILTIN_MODELS, ECHO_MODEL_ID, MODEL_FAMILIES, familyLetterbox } from './models.js';
import type { ModelDescriptor, ModelFamily } from './models.js';
import { parseOnnx } from './onnx-file.js';

/** File name of the user-model registry inside the model directory. */
export const USER_MODELS_FILE = 'models.json';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const LetterboxSchema = Type.Object(
  {
    size: Type.Integer({ minimum: 32, maximum: 4096 }),
    channelOrder: Type.Union([Type.Literal('rgb'), Type.Literal('bgr')]),
    scale: Type.Union([Type.Literal(1), Type.Literal(255)]),
    placement: Type.Union([Type.Literal('top-left'), Type.Literal('centre')]),
    padValue: Type.Number({ minimum: 0, maximum: 255 }),
    dtype: Type.Union([Type.Literal('float32'), Type.Literal('float16')]),
  },
  { additionalProperties: false },
);

const UserModelSchema = Type.Object(
  {
    id: Type.String({ pattern: ID_RE.source }),
    file: Type.String({ minLength: 1 }),
    family: Type.Union(MODEL_FAMILIES.map((f) => Type.Literal(f))),
    input: LetterboxSchema,
    outputDtype: Type.Union([Type.Literal('float32'), Type.Literal('float16')]),
    tokensPerFrame: Type.Integer({ minimum: 1 }),
    classNames: Type.Array(Type.String()),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const RegistrySchema = Type.Object(
  { version: Type.Literal(1), models: Type.Array(UserModelSchema) },
  { additionalProperties: false },
);

type Registry = Static<typeof RegistrySchema>;
type UserModelRecord = Static<typeof UserModelSchema>;

/** A model as `models ls` shows it. */
export interface ModelListing {
  id: string;
  file: string;
  /** Absolute path where the file is looked for. */
  path: string;
  family: ModelFamily;
  /** Square input side in pixels. */
  inputSize: number;
  tokensPerFrame: number;
  builtIn: boolean;
  present: boolean;
  /** File size in bytes, null when absent. */
  sizeBytes: number | null;
  /** True when `yoloscale models pull ID` can download it. */
  downloadable: boolean;
  description: string;
}

/** Where a model's file is expected. */
export function modelPath(modelsDir: string, descriptor: Pick<ModelDescriptor, 'file'>): string {
  return resolve(modelsDir, descriptor.file);
}

/** The one-line `model_missing` error: where it looked and how to get the file. */
export function missingModelError(modelsDir: string, descriptor: ModelDescriptor): YoloscaleError {
  const path = modelPath(modelsDir, descriptor);
  const dir = resolve(modelsDir);
  const how = descriptor.url
    ? `run \`yoloscale models pull ${descriptor.id}\` or copy ${descriptor.file} into ${dir}`
    : `copy ${descriptor.file} into ${dir} (set YOLOSCALE_MODELS or --models to use another directory)`;
  return new YoloscaleError(ErrorCode.modelMissing, `model ${descriptor.id} is not installed: looked for ${path}; ${how}`, {
    details: { model: descriptor.id, path },
  });
}

/** The `unknown_model` error, listing what is known. */
export function unknownModelError(id: string, known: readonly string[]): YoloscaleError {
  return new YoloscaleError(ErrorCode.unknownModel, `unknown model ${JSON.stringify(id)}; known models: ${known.join(', ')}`, {
    details: { model: id },
  });
}

function toDescriptor(r: UserModelRecord): ModelDescriptor {
  return Object.freeze({
    id: r.id,
    file: r.file,
    family: r.family,
    input: Object.freeze({ ...r.input }),
    outputDtype: r.outputDtype,
    tokensPerFrame: r.tokensPerFrame,
    classNames: Object.freeze([...r.classNames]),
    ...(r.sha256 ? { sha256: r.sha256 } : {}),
    builtIn: false,
    description: r.description ?? `user model (${r.family}, ${r.input.size}×${r.input.size})`,
  });
}

async function readRegistry(modelsDir: string): Promise<Registry> {
  const file = join(modelsDir, USER_MODELS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, models: [] };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new YoloscaleError(ErrorCode.badRequest, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Value.Check(RegistrySchema, json)) {
    const e = Value.Errors(RegistrySchema, json).First();
    throw new YoloscaleError(ErrorCode.badRequest, `${file}: ${e ? `${e.path || '/'} ${e.message}` : 'invalid'}`);
  }
  return json;
}

/** User models registered in `<modelsDir>/models.json` (empty when the file is absent). */
export async function loadUserModels(modelsDir: string): Promise<ModelDescriptor[]> {
  const reg = await readRegistry(modelsDir);
  return reg.models.map(toDescriptor);
}

/** Built-in and user models, built-ins first. */
export async function allModels(modelsDir: string): Promise<ModelDescriptor[]> {
  return [...BUILTIN_MODELS, ...(await loadUserModels(modelsDir))];
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Every model with whether its file is present and its size (`models ls`). */
export async function listModels(modelsDir: string): Promise<ModelListing[]> {
  const models = await allModels(modelsDir);
  return Promise.all(
    models.map(async (m) => {
      const path = modelPath(modelsDir, m);
      const sizeBytes = await fileSize(path);
      return {
        id: m.id,
        file: m.file,
        path,
        family: m.family,
        inputSize: m.input.size,
        tokensPerFrame: m.tokensPerFrame,
        builtIn: m.builtIn,
        present: sizeBytes !== null,
        sizeBytes,
        downloadable: m.url !== undefined,
        description: m.description,
      };
    }),
  );
}

/**
 * Finds a model by id and checks its file is there.
 * Throws `unknown_model` for an id nobody knows and `model_missing` (one line)
 * when the file is absent.
 */
export async function resolveModel(modelsDir: string, id: string): Promise<{ descriptor: ModelDescriptor; path: string }> {
  const models = await allModels(modelsDir);
  const descriptor = models.find((m) => m.id === id);
  if (!descriptor) throw unknownModelError(id, models.map((m) => m.id));
  const path = modelPath(modelsDir, descriptor);
  if ((await fileSize(path)) === null) throw missingModelError(modelsDir, descriptor);
  return { descriptor, path };
}

/** Options of {@link addModel}. */
export interface AddModelOptions {
  /** Catalog id of the new model. */
  id: string;
  /** Force the family instead of detecting it. */
  family?: ModelFamily;
  /** Input side when the graph's height and width are symbolic. */
  size?: number;
  /** Tokens per frame (default 1). */
  tokensPerFrame?: number;
  /** Class names, overriding metadata. */
  classNames?: string[];
  /** Replace an existing user model with the same id. */
  replace?: boolean;
}

/** Result of {@link addModel}. */
export interface AddModelResult {
  descriptor: ModelDescriptor;
  inspection: ModelInspection;
  /** Where the file now lives inside the model directory. */
  path: string;
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Registers a user model (`models add FILE --id ID`): inspects the ONNX file
 * (family, input size, dtypes, class names), copies it into the model directory
 * when it lives elsewhere, and records it in `models.json`.
 */
export async function addModel(modelsDir: string, file: string, opts: AddModelOptions): Promise<AddModelResult> {
  if (typeof opts.id !== 'string' || !ID_RE.test(opts.id)) {
    throw new YoloscaleError(ErrorCode.badRequest, 'options.id must be 1–64 letters, digits, dots, dashes or underscores');
  }
  if (opts.id === ECHO_MODEL_ID || BUILTIN_MODELS.some((m) => m.id === opts.id)) {
    throw new YoloscaleError(ErrorCode.conflict, `model id ${opts.id} is a built-in model`);
  }
  if (opts.family !== undefined && !MODEL_FAMILIES.includes(opts.family)) {
    throw new YoloscaleError(ErrorCode.badRequest, `options.family must be one of ${MODEL_FAMILIES.join(', ')}`);
  }
  if (opts.tokensPerFrame !== undefined && (!Number.isInteger(opts.tokensPerFrame) || opts.tokensPerFrame < 1)) {
    throw new YoloscaleError(ErrorCode.badRequest, 'options.tokensPerFrame must be a positive integer');
  }
  if (opts.size !== undefined && (!Number.isInteger(opts.size) || opts.size < 32)) {
    throw new YoloscaleError(ErrorCode.badRequest, 'options.size must be an integer of at least 32');
  }
  const src = resolve(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(src);
  } catch (err) {
    throw new YoloscaleError(ErrorCode.notFound, `cannot read ${src}: ${(err as Error).message}`, { cause: err });
  }
  let inspection: ModelInspection;
  try {
    inspection = inspectModel(parseOnnx(bytes), {
      ...(opts.family ? { family: opts.family } : {}),
      ...(opts.size ? { size: opts.size } : {}),
    });
  } catch (err) {
    const why = err instanceof ModelInspectionError ? err.message : `not a readable ONNX file (${(err as Error).message})`;
    throw new YoloscaleError(ErrorCode.badRequest, `${src}: ${why}`, { cause: err });
  }
  if (opts.classNames && opts.classNames.length !== inspection.classNames.length) {
    throw new YoloscaleError(
      ErrorCode.badRequest,
      `options.classNames has ${opts.classNames.length} names but the model has ${inspection.classNames.length} classes`,
    );
  }
  const dir = resolve(modelsDir);
  await mkdir(dir, { recursive: true });
  const reg = await readRegistry(dir);
  const existing = reg.models.findIndex((m) => m.id === opts.id);
  if (existing >= 0 && !opts.replace) {
    throw new YoloscaleError(ErrorCode.conflict, `model ${opts.id} is already registered in ${join(dir, USER_MODELS_FILE)}`);
  }
  const name = basename(src);
  const dest = join(dir, name);
  if (dirname(src) !== dir) {
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
    await copyFile(src, tmp);
    await rename(tmp, dest);
  }
  const record: UserModelRecord = {
    id: opts.id,
    file: name,
    family: inspection.family,
    input: { ...familyLetterbox(inspection.family, inspection.size, inspection.inputDtype) },
    outputDtype: inspection.outputDtype,
    tokensPerFrame: opts.tokensPerFrame ?? 1,
    classNames: opts.classNames ?? inspection.classNames,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  if (existing >= 0) reg.models[existing] = record;
  else reg.models.push(record);
  await writeAtomic(join(dir, USER_MODELS_FILE), `${JSON.stringify(reg, null, 2)}\n`);
  return { descriptor: toDescriptor(record), inspection, path: dest };
}
