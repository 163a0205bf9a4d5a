#!/usr/bin/env python3
"""Independent COCO-style evaluation of one model file, for `bench eval-crosscheck`.

Nothing here comes from yoloscale: images are decoded and letterboxed with
OpenCV as the models' own training code does it (the YOLOX demo's
`preproc`, Ultralytics' `LetterBox`), inference runs on onnxruntime's Python
package when it is installed and otherwise on OpenCV's DNN module (on an fp32
copy for float16 models) or, for the dynamically quantised models OpenCV 4.6
cannot load, on the numpy interpreter of onnx_numpy.py (both need Debian's
python3-onnx to read the model), boxes are
decoded and NMS'd with numpy following the families' reference code, and
mAP follows pycocotools' COCOeval (bbox, area range all, no crowd) in numpy
(where pycocotools is importable it also scores the same detections, reported
beside as "pycocotools").

Settings are those of `yoloscale eval` (SPEC §4): conf 0.001, NMS IoU 0.65,
300 detections per image, 100 per image and class in the metric.

usage: eval_crosscheck.py --data DIR --model-file FILE --family F --size N
Prints one JSON line: {"images", "boxes", "map50", "map50_95", "engine", "metric"}
or {"skipped": REASON, "engine"} when no available engine can run the model.
"""
import argparse
import contextlib
import json
import os
import re
import sys

import cv2
import numpy as np

CONF = 0.001
NMS_IOU = 0.65
MAX_DET = 300
MAX_DETS_PER_CLASS = 100
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


# ---- data ---------------------------------------------------------------------------

def load_dataset(root):
    """(path, gt) pairs: gt is an (n, 5) array of class, x1, y1, x2, y2 in pixels."""
    images_dir = os.path.join(root, "images")
    labels_dir = os.path.join(root, "labels")
    out = []
    for dirpath, _, files in os.walk(images_dir, followlinks=True):
        for f in sorted(files):
            if not f.lower().endswith(IMAGE_EXTS):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, images_dir)
            label = os.path.join(labels_dir, os.path.splitext(rel)[0] + ".txt")
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{path}: cannot be decoded")
            h, w = img.shape[:2]
            rows = []
            if os.path.exists(label):
                with open(label) as fh:
                    for line in fh:
                        parts = line.split()
                        if not parts:
                            continue
                        c, cx, cy, bw, bh = int(parts[0]), *map(float, parts[1:5])
                        rows.append([c, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
            out.append((path, np.array(rows, dtype=np.float64).reshape(-1, 5)))
    out.sort(key=lambda x: x[0])
    return out


# ---- preprocessing (the families' own code) ----------------------------------------------

def preproc_yolox(img, size):
    """YOLOX demo `preproc`: top-left pad 114, BGR, 0..255."""
    padded = np.ones((size, size, 3), dtype=np.uint8) * 114
    r = min(size / img.shape[0], size / img.shape[1])
    resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded[: resized.shape[0], : resized.shape[1]] = resized
    blob = np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32)[None]
    return blob, r, 0.0, 0.0


def preproc_ultralytics(img, size):
    """Ultralytics `LetterBox(auto=False, scaleup=True, center=True)`: centred pad 114, RGB, /255."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    if (w, h) != (new_w, new_h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    blob = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32)[None] / 255.0
    return blob, r, float(left), float(top)


# ---- inference ----------------------------------------------------------------------------

class Unavailable(Exception):
    """No engine available here can run the model."""

    def __init__(self, opencv_error, other):
        ops = sorted(set(re.findall(r"Node \[(\w+)@", str(opencv_error))))
        why = f"no {', '.join(ops)} layer" if ops else str(opencv_error).strip().splitlines()[-1][:200]
        if isinstance(other, ImportError):
            rest = "neither onnxruntime nor onnx (for the numpy interpreter) is installed for Python"
        else:
            rest = f"the numpy interpreter lacks {other}"
        super().__init__(f"OpenCV DNN {cv2.__version__} cannot run it ({why}); {rest}")


class Runner:
    def __init__(self, model_file):
        self.name = None
        self.sess = None
        self.net = None
        self.interp = None
        self.fp16 = False
        try:
            import onnxruntime as ort  # noqa: PLC0415

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            self.sess = ort.InferenceSession(model_file, opts, providers=["CPUExecutionProvider"])
            inp = self.sess.get_inputs()[0]
            self.input_name = inp.name
            self.fp16 = inp.type == "tensor(float16)"
            self.name = f"onnxruntime {ort.__version__} (Python)"
            return
        except ImportError:
            pass
        cv2.setNumThreads(1)
        try:
            self.net = cv2.dnn.readNetFromONNX(model_file)
            self.name = f"OpenCV DNN {cv2.__version__}"
            return
        except cv2.error as e:
            # OpenCV 4.6 reads no float16 tensors and no uneven Split: run an fp32 copy (needs the onnx package).
            widened = widen_fp16(model_file)
            if widened is not None:
                self.net = cv2.dnn.readNetFromONNX(np.frombuffer(widened, np.uint8))
                self.name = f"OpenCV DNN {cv2.__version__} on an fp32 copy (float16 weights widened, uneven Split as Slice)"
                return
            opencv_error = e
        # Dynamically quantised graphs (DynamicQuantizeLinear, ConvInteger): the numpy interpreter beside this script.
        try:
            from onnx_numpy import Interpreter  # noqa: PLC0415

            self.interp = Interpreter(model_file)
            self.name = "numpy ONNX interpreter (bench/onnx_numpy.py)"
        except (ImportError, NotImplementedError) as e:
            raise Unavailable(opencv_error, e) from e

    def __call__(self, blob):
        if self.interp is not None:
            return self.interp(blob)
        if self.sess is not None:
            x = blob.astype(np.float16) if self.fp16 else blob
            return np.asarray(self.sess.run(None, {self.input_name: x})[0], dtype=np.float32)
        self.net.setInput(blob)
        return np.asarray(self.net.forward(), dtype=np.float32)


def widen_fp16(model_file):
    """The model with float16 tensors widened to float32 and uneven Splits as Slices (None without onnx or float16)."""
    try:
        import onnx  # noqa: PLC0415
        from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415
    except ImportError:
        return None
    m = onnx.load(model_file)
    g = m.graph
    fp16 = [i for i in g.initializer if i.data_type == TensorProto.FLOAT16]
    if not fp16 and all(v.type.tensor_type.elem_type != TensorProto.FLOAT16 for v in g.input):
        return None
    for init in fp16:
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT16:
            v.type.tensor_type.elem_type = TensorProto.FLOAT
    inits = {i.name: i for i in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type == "Cast":
            for a in n.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT16:
                    a.i = TensorProto.FLOAT
        if n.op_type == "Split" and len(n.input) == 2 and n.input[1] in inits:
            sizes = numpy_helper.to_array(inits[n.input[1]]).tolist()
            axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
            start = 0
            for k, (out, size) in enumerate(zip(n.output, sizes)):
                names = [f"{out}_{w}" for w in ("starts", "ends", "axes")]
                for name, val in zip(names, ([start], [start + size], [axis])):
                    g.initializer.append(numpy_helper.from_array(np.array(val, np.int64), name))
                nodes.append(helper.make_node("Slice", [n.input[0], *names], [out], name=f"{n.name}_slice{k}"))
                start += size
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    return m.SerializeToString()


# ---- postprocessing (numpy, after each family's reference) ----------------------------------

def box_iou(a, b):
    """IoU of every box in a (n, 4) against every box in b (m, 4), x1 y1 x2 y2."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-12)


def nms(boxes, scores, classes, iou):
    """Class-aware greedy NMS (torchvision batched_nms semantics); returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    suppressed = np.zeros(len(scores), dtype=bool)
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        rest = rest[(~suppressed[rest]) & (classes[rest] == classes[i])]
        if len(rest):
            suppressed[rest[box_iou(boxes[i : i + 1], boxes[rest])[0] > iou]] = True
    return np.array(keep, dtype=np.int64)


def yolox_decode(out, size):
    """YOLOX `demo_postprocess` (strides 8, 16, 32) then `postprocess`: best class, obj·cls, batched NMS."""
    grids, strides = [], []
    for stride in (8, 16, 32):
        n = size // stride
        xv, yv = np.meshgrid(np.arange(n), np.arange(n))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), stride))
    grids = np.concatenate(grids)
    strides = np.concatenate(strides)
    p = out[0].astype(np.float64)
    xy = (p[:, :2] + grids) * strides
    wh = np.exp(p[:, 2:4]) * strides
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
    cls = p[:, 5:].argmax(1)
    scores = p[:, 4] * p[np.arange(len(p)), 5 + cls]
    m = scores >= CONF
    return boxes[m], scores[m], cls[m]


def ultralytics_decode(out, multi_label):
    """Ultralytics `non_max_suppression` input [1, 4+C, N] (cx, cy, w, h, class scores)."""
    p = out[0].T.astype(np.float64)
    return _multi(p[:, :4], p[:, 4:], multi_label)


def yolov5_decode(out, multi_label):
    """YOLOv5 [1, N, 5+C]: class scores times objectness, as in its `non_max_suppression`."""
    p = out[0].astype(np.float64)
    p = p[p[:, 4] > CONF]
    return _multi(p[:, :4], p[:, 5:] * p[:, 4:5], multi_label)


def _multi(cxcywh, cls_scores, multi_label):
    boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
    if multi_label:
        i, j = np.nonzero(cls_scores > CONF)
        return boxes[i], cls_scores[i, j], j
    j = cls_scores.argmax(1)
    s = cls_scores[np.arange(len(j)), j]
    m = s > CONF
    return boxes[m], s[m], j[m]


def detect(runner, family, size, img):
    if family == "yolox":
        blob, r, px, py = preproc_yolox(img, size)
    else:
        blob, r, px, py = preproc_ultralytics(img, size)
    out = runner(blob)
    if family == "yolov10":
        # End-to-end [1, K, 6]: x1 y1 x2 y2 score class, no NMS.
        p = out[0].astype(np.float64)
        p = p[p[:, 4] > CONF][:MAX_DET]
        boxes, scores, cls = p[:, :4], p[:, 4], p[:, 5].astype(np.int64)
    else:
        if family == "yolox":
            boxes, scores, cls = yolox_decode(out, size)
        elif family == "ultralytics":
            boxes, scores, cls = ultralytics_decode(out, multi_label=True)
        else:
            boxes, scores, cls = yolov5_decode(out, multi_label=True)
        keep = nms(boxes, scores, cls, NMS_IOU)[:MAX_DET]
        boxes, scores, cls = boxes[keep], scores[keep], cls[keep]
    boxes = boxes.copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - px) / r
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - py) / r
    h, w = img.shape[:2]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return np.concatenate([cls[:, None].astype(np.float64), scores[:, None], boxes], 1).reshape(-1, 6)


# ---- COCO-style mAP (pycocotools' COCOeval semantics, bbox, area all, no crowd) ------------

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def coco_map(gts, dets):
    """gts: per image (n, 5) class x1 y1 x2 y2; dets: per image (m, 6) class score x1 y1 x2 y2."""
    cats = sorted({int(c) for g in gts for c in g[:, 0]})
    T, R = len(IOU_THRS), len(REC_THRS)
    precision = -np.ones((T, R, len(cats)))
    for k, c in enumerate(cats):
        scores_all, matched_all, npig = [], [], 0
        for g, d in zip(gts, dets):
            gb = g[g[:, 0] == c][:, 1:]
            dd = d[d[:, 0] == c]
            dd = dd[np.argsort(-dd[:, 1], kind="mergesort")][:MAX_DETS_PER_CLASS]
            npig += len(gb)
            matched = np.zeros((T, len(dd)), dtype=bool)
            if len(dd) and len(gb):
                ious = box_iou(dd[:, 2:], gb)
                for t, thr in enumerate(IOU_THRS):
                    taken = np.zeros(len(gb), dtype=bool)
                    for di in range(len(dd)):
                        best, m = min(thr, 1 - 1e-10), -1
                        for gi in range(len(gb)):
                            if taken[gi] or ious[di, gi] < best:
                                continue
                            best, m = ious[di, gi], gi
                        if m >= 0:
                            taken[m] = True
                            matched[t, di] = True
            scores_all.append(dd[:, 1])
            matched_all.append(matched)
        if npig == 0:
            continue
        scores = np.concatenate(scores_all)
        inds = np.argsort(-scores, kind="mergesort")
        tps = np.concatenate(matched_all, axis=1)[:, inds]
        fps = ~tps
        tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
        fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
        for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
            nd = len(tp)
            rc = tp / npig
            pr = (tp / (fp + tp + np.spacing(1))).tolist()
            q = np.zeros((R,))
            for i in range(nd - 1, 0, -1):
                if pr[i] > pr[i - 1]:
                    pr[i - 1] = pr[i]
            idx = np.searchsorted(rc, REC_THRS, side="left")
            for ri, pi in enumerate(idx):
                if pi < nd:
                    q[ri] = pr[pi]
            precision[t, :, k] = q
    if len(cats) == 0:
        return 0.0, 0.0
    per_t = [np.mean(precision[t][precision[t] > -1]) for t in range(T)]
    return float(per_t[0]), float(np.mean(per_t))


def pycocotools_map(gts, dets, sizes):
    """The same detections through pycocotools itself, when it is installed (None otherwise)."""
    try:
        from pycocotools.coco import COCO  # noqa: PLC0415
        from pycocotools.cocoeval import COCOeval  # noqa: PLC0415
    except ImportError:
        return None
    images, anns, results = [], [], []
    cats = sorted({int(c) for g in gts for c in g[:, 0]})
    for i, (g, d, (w, h)) in enumerate(zip(gts, dets, sizes)):
        images.append({"id": i, "width": w, "height": h})
        for row in g:
            bw, bh = row[3] - row[1], row[4] - row[2]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(row[0]), "bbox": [row[1], row[2], bw, bh], "area": bw * bh, "iscrowd": 0})
        for row in d:
            results.append({"image_id": i, "category_id": int(row[0]), "score": float(row[1]), "bbox": [row[2], row[3], row[4] - row[2], row[5] - row[3]]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in cats]}
    gt.createIndex()
    dt = gt.loadRes(results) if results else COCO()
    ev = COCOeval(gt, dt, "bbox")
    with contextlib.redirect_stdout(sys.stderr):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[1]), float(ev.stats[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model-file", required=True)
    ap.add_argument("--family", required=True, choices=["yolox", "ultralytics", "yolov5", "yolov10"])
    ap.add_argument("--size", type=int, required=True)
    args = ap.parse_args()
    try:
        runner = Runner(args.model_file)
    except Unavailable as e:
        print(json.dumps({"skipped": str(e), "engine": f"OpenCV DNN {cv2.__version__}"}))
        return
    data = load_dataset(args.data)
    gts, dets, sizes = [], [], []
    for path, gt in data:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        gts.append(gt)
        dets.append(detect(runner, args.family, args.size, img))
        sizes.append((img.shape[1], img.shape[0]))
    map50, map50_95 = coco_map(gts, dets)
    out = {"images": len(data), "boxes": int(sum(len(g) for g in gts)), "map50": map50, "map50_95": map50_95, "engine": runner.name, "metric": "numpy COCOeval"}
    with_coco = pycocotools_map(gts, dets, sizes)
    if with_coco is not None:
        out["pycocotools"] = {"map50": with_coco[0], "map50_95": with_coco[1]}
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
