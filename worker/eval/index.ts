// Public surface of worker/eval: COCO-style mAP (pure) and YOLO-format dataset loading.
export { IOU_THRESHOLDS, RECALL_THRESHOLDS, boxIou, classAps, evaluate } from './map.js';
export type { ClassAp, EvalImage, EvalOptions, EvalSummary, GroundTruthBox, ScoredBox } from './map.js';
export { DATASET_IMAGE_EXTENSIONS, loadYoloDataset, parseYoloLabels } from './labels.js';
export type { LabelledImage } from './labels.js';
