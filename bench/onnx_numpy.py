"""A small ONNX interpreter in numpy, for bench/eval_crosscheck.py.

It runs the operators the built-in dynamically quantised models use
(DynamicQuantizeLinear, ConvInteger and the float operators around them)
following the ONNX operator specifications, so that those models can be
evaluated independently of onnxruntime where OpenCV's DNN module cannot load
them. Integer convolutions are computed exactly (float64 products of
integers). It is slow and meant for a handful of images. Needs the `onnx`
package (Debian's python3-onnx) to read the model file.
"""
import numpy as np

ELEM_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}


def _attrs(node):
    from onnx import helper  # noqa: PLC0415

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _windows(x, kh, kw, strides, dilations):
    """(N, C, kh, kw, Ho, Wo) view of the (already padded) x."""
    n, c, h, w = x.shape
    sh, sw = strides
    dh, dw = dilations
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(x, shape=(n, c, kh, kw, ho, wo), strides=(s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw), writeable=False)


def conv2d(x, w, a):
    """Grouped 2-D convolution of float64 arrays (NCHW, MCkk) per the ONNX Conv attributes."""
    kh, kw = w.shape[2:]
    pads = a.get("pads", [0, 0, 0, 0])
    group = a.get("group", 1)
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    cols = _windows(xp, kh, kw, a.get("strides", [1, 1]), a.get("dilations", [1, 1]))
    n, c, _, _, ho, wo = cols.shape
    m, cg = w.shape[:2]
    if group == c and cg == 1 and m == c:
        return np.einsum("ncijhw,cij->nchw", cols, w[:, 0], optimize=True)
    mg = m // group
    out = np.empty((n, m, ho, wo))
    for g in range(group):
        col = cols[:, g * cg : (g + 1) * cg].reshape(n, cg * kh * kw, ho * wo)
        wg = w[g * mg : (g + 1) * mg].reshape(mg, cg * kh * kw)
        out[:, g * mg : (g + 1) * mg] = np.matmul(wg, col).reshape(n, mg, ho, wo)
    return out


def dynamic_quantize_linear(x):
    x = x.astype(np.float32)
    lo = np.float32(min(0.0, float(x.min())))
    hi = np.float32(max(0.0, float(x.max())))
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        return np.zeros(x.shape, np.uint8), np.array(scale, np.float32), np.array(0, np.uint8)
    zp = np.clip(np.round(np.float32(0) - lo / scale), 0, 255)
    y = np.clip(np.round(x / scale) + zp, 0, 255).astype(np.uint8)
    return y, np.array(scale, np.float32), np.array(zp, np.uint8)


def _axis(axis, rank):
    return axis + rank if axis < 0 else axis


def _run(op, ins, a):  # noqa: C901, PLR0911, PLR0912 - one branch per operator
    if op == "DynamicQuantizeLinear":
        return dynamic_quantize_linear(ins[0])
    if op == "ConvInteger":
        xzp = (ins[2] if len(ins) > 2 and ins[2] is not None else np.zeros(())).astype(np.float64)
        wzp = (ins[3] if len(ins) > 3 and ins[3] is not None else np.zeros(())).astype(np.float64)
        x = ins[0].astype(np.float64) - xzp
        # The weight zero point is a scalar or one per output channel.
        w = ins[1].astype(np.float64) - (wzp.reshape(-1, 1, 1, 1) if wzp.size > 1 else wzp)
        return (np.rint(conv2d(x, w, a)).astype(np.int32),)
    if op == "Conv":
        y = conv2d(ins[0].astype(np.float64), ins[1].astype(np.float64), a)
        if len(ins) > 2 and ins[2] is not None:
            y = y + ins[2].reshape(1, -1, 1, 1)
        return (y.astype(np.float32),)
    if op == "Cast":
        return (ins[0].astype(ELEM_TYPES[a["to"]]),)
    if op in ("Add", "Sub", "Mul"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op]
        return (f(ins[0], ins[1]).astype(np.result_type(ins[0].dtype, ins[1].dtype)),)
    if op == "Div":
        if np.issubdtype(ins[0].dtype, np.integer):
            return (np.trunc(ins[0] / ins[1]).astype(ins[0].dtype),)
        return ((ins[0] / ins[1]).astype(np.result_type(ins[0].dtype, ins[1].dtype)),)
    if op == "Mod":
        return ((np.fmod if a.get("fmod", 0) else np.mod)(ins[0], ins[1]),)
    if op == "Sigmoid":
        x = ins[0].astype(np.float32)
        with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the logistic is then 0, as it should be
            return ((np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32),)
    if op == "Softmax":
        x = ins[0]
        e = np.exp(x - x.max(axis=a.get("axis", -1), keepdims=True))
        return ((e / e.sum(axis=a.get("axis", -1), keepdims=True)).astype(x.dtype),)
    if op == "MatMul":
        return (np.matmul(ins[0], ins[1]),)
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        shape = [ins[0].shape[i] if s == 0 and not a.get("allowzero", 0) else s for i, s in enumerate(shape)]
        return (ins[0].reshape(shape),)
    if op == "Flatten":
        ax = _axis(a.get("axis", 1), ins[0].ndim)
        return (ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1),)
    if op == "Transpose":
        return (np.transpose(ins[0], a.get("perm")),)
    if op == "Concat":
        return (np.concatenate(ins, axis=a["axis"]),)
    if op == "Split":
        x = ins[0]
        ax = _axis(a.get("axis", 0), x.ndim)
        if len(ins) > 1 and ins[1] is not None:
            sizes = [int(s) for s in ins[1]]
        elif "split" in a:
            sizes = list(a["split"])
        else:
            k = a["num_outputs"]
            sizes = [-(-x.shape[ax] // k)] * k
            sizes[-1] = x.shape[ax] - sum(sizes[:-1])
        return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=ax))
    if op == "Slice":
        x = ins[0]
        starts, ends = ins[1], ins[2]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        idx = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[_axis(int(ax), x.ndim)] = slice(int(s), int(e), int(st))
        return (x[tuple(idx)],)
    if op == "MaxPool":
        x = ins[0]
        kh, kw = a["kernel_shape"]
        p = a.get("pads", [0, 0, 0, 0])
        xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=-np.inf)
        return (_windows(xp, kh, kw, a.get("strides", [1, 1]), a.get("dilations", [1, 1])).max(axis=(2, 3)).astype(x.dtype),)
    if op == "Resize":
        if a.get("mode", "nearest") != "nearest" or a.get("coordinate_transformation_mode") != "asymmetric" or a.get("nearest_mode", "round_prefer_floor") != "floor":
            raise NotImplementedError(f"Resize {a}")
        x = ins[0]
        scales = ins[2] if len(ins) > 2 and ins[2] is not None and ins[2].size else None
        sizes = [int(s) for s in ins[3]] if scales is None else [int(np.floor(d * s)) for d, s in zip(x.shape, scales)]
        if scales is None:
            scales = [o / i for o, i in zip(sizes, x.shape)]
        for ax, (n, s) in enumerate(zip(sizes, scales)):
            if n != x.shape[ax]:
                x = np.take(x, np.minimum(np.floor(np.arange(n) / s).astype(np.int64), x.shape[ax] - 1), axis=ax)
        return (x,)
    if op == "ReduceMax":
        axes = a.get("axes") if "axes" in a else (list(ins[1]) if len(ins) > 1 and ins[1] is not None else None)
        return (np.max(ins[0], axis=None if axes is None else tuple(int(v) for v in axes), keepdims=bool(a.get("keepdims", 1))),)
    if op == "TopK":
        x = ins[0]
        k = int(ins[1].reshape(-1)[0])
        ax = _axis(a.get("axis", -1), x.ndim)
        order = np.argsort(-x if a.get("largest", 1) else x, axis=ax, kind="stable")
        idx = np.take(order, np.arange(k), axis=ax)
        return np.take_along_axis(x, idx, axis=ax), idx.astype(np.int64)
    if op == "Unsqueeze":
        axes = a.get("axes") if "axes" in a else [int(v) for v in ins[1]]
        y = ins[0]
        for ax in sorted(_axis(v, y.ndim + len(axes)) for v in axes):
            y = np.expand_dims(y, ax)
        return (y,)
    if op == "Tile":
        return (np.tile(ins[0], [int(r) for r in ins[1]]),)
    if op == "GatherElements":
        ax = _axis(a.get("axis", 0), ins[0].ndim)
        idx = np.where(ins[1] < 0, ins[1] + ins[0].shape[ax], ins[1])
        return (np.take_along_axis(ins[0], idx, axis=ax),)
    if op == "Gather":
        ax = _axis(a.get("axis", 0), ins[0].ndim)
        idx = np.where(ins[1] < 0, ins[1] + ins[0].shape[ax], ins[1])
        return (np.take(ins[0], idx, axis=ax),)
    if op == "Constant":
        from onnx import numpy_helper  # noqa: PLC0415

        return (numpy_helper.to_array(a["value"]) if not isinstance(a["value"], (int, float, list)) else np.array(a["value"]),)
    raise NotImplementedError(op)


class Interpreter:
    """`Interpreter(path)(blob)` → the first output, as float32."""

    def __init__(self, path):
        import onnx  # noqa: PLC0415
        from onnx import numpy_helper  # noqa: PLC0415

        model = onnx.load(path)
        g = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        inits = set(self.consts)
        self.input = next(i.name for i in g.input if i.name not in inits)
        self.output = g.output[0].name
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in g.node]
        unsupported = sorted({op for op, *_ in self.nodes} - SUPPORTED)
        if unsupported:
            raise NotImplementedError(", ".join(unsupported))
        last = {}
        for k, (_, ins, _, _) in enumerate(self.nodes):
            for name in ins:
                last[name] = k
        self.last_use = last

    def __call__(self, blob):
        vals = dict(self.consts)
        vals[self.input] = blob.astype(np.float32)
        for k, (op, ins, outs, a) in enumerate(self.nodes):
            args = [vals[n] if n else None for n in ins]
            for name, v in zip(outs, _run(op, args, a)):
                if name:
                    vals[name] = np.asarray(v)
            for n in ins:
                if n and self.last_use.get(n) == k and n not in self.consts and n != self.output:
                    vals.pop(n, None)
        return vals[self.output].astype(np.float32)


SUPPORTED = {
    "DynamicQuantizeLinear", "ConvInteger", "Conv", "Cast", "Add", "Sub", "Mul", "Div", "Mod", "Sigmoid", "Softmax",
    "MatMul", "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "MaxPool", "Resize", "ReduceMax", "TopK",
    "Unsqueeze", "Tile", "GatherElements", "Gather", "Constant",
}
