// Public surface of worker/engine: the detection engine, model catalog, decoders and tools.
export { Engine } from './engine.js';
export type { BatchItem, DetectCallOptions, EngineModelInfo, EngineOptions } from './engine.js';
export {
  USER_MODELS_FILE,
  addModel,
  allModels,
  listModels,
  loadUserModels,
  missingModelError,
  modelPath,
  resolveModel,
  unknownModelError,
} from './catalog.js';
export type { AddModelOptions, AddModelResult, ModelListing } from './catalog.js';
export {
  BUILTIN_MODELS,
  DEFAULT_MODEL_ID,
  ECHO_MODEL_ID,
  MODEL_FAMILIES,
  builtinModel,
  familyLetterbox,
  ultralyticsLetterbox,
  yoloxLetterbox,
} from './models.js';
export type { ModelDescriptor, ModelFamily } from './models.js';
export { COCO_CLASSES } from './coco.js';
export { inspectModel, parseClassNames } from './detect-family.js';
export type { InspectOptions, ModelInspection } from './detect-family.js';
export { parseOnnx } from './onnx-file.js';
export type { OnnxDim, OnnxSummary, OnnxValueInfo } from './onnx-file.js';
export { MAX_DET_LIMIT, resolveParams } from './params.js';
export type { EngineDetectParams, EngineResolvedParams } from './params.js';
export { Candidates } from './candidates.js';
export { decodeFamily, decodeUltralytics, decodeYolov10, decodeYolov5, decodeYolox } from './decode.js';
export type { DecodeOptions, OutputSlice } from './decode.js';
export { iouAt, nms, topK } from './nms.js';
export type { NmsOptions } from './nms.js';
export { postprocess, unletterbox } from './postprocess.js';
export type { LetterboxGeometry, PostprocessModel } from './postprocess.js';
export { float32ToHalfArray, floatToHalf, halfToFloat, halfToFloat32Array } from './float16.js';
export { DEVICE_REQUESTS, openSession, probeDevice } from './ort.js';
export type { DeviceProbe, DeviceRequest, ExecutionProvider, ModelSession, OpenSessionOptions, OutputTensor, TensorData } from './ort.js';
export { makeDynamic, rewriteDynamicBatch } from './make-dynamic.js';
export type { DynamicRewrite, MakeDynamicOptions, MakeDynamicReport } from './make-dynamic.js';
export { CUDA_PACKAGE, CUDA_PROVIDER_FILES, findOrtLibDir, setupCuda } from './setup-cuda.js';
export type { SetupCudaOptions, SetupCudaReport } from './setup-cuda.js';
