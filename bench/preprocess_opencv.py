#!/usr/bin/env python3
"""OpenCV reference for `bench preprocess`: the YOLOX demo's preprocessing.

Decodes an encoded image with cv2.imdecode, resizes it with INTER_LINEAR to
(int(W*r), int(H*r)), pastes it top-left on a size x size canvas of 114,
transposes HWC -> CHW and converts to contiguous float32 (BGR, 0..255), on
one thread. Prints one JSON line: {"frames", "msPerFrame", "cpuMsPerFrame",
"decodeMsPerFrame", "opencv"}.

usage: preprocess_opencv.py IMAGE [--size 416] [--frames 200] [--warmup 10]
"""
import argparse
import json
import time

import cv2
import numpy as np


def preprocess(buf, size):
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("image could not be decoded")
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    resized = cv2.resize(img, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded = np.ones((size, size, 3), dtype=np.uint8) * 114
    padded[: resized.shape[0], : resized.shape[1]] = resized
    return np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32)


def timed(fn, frames):
    wall = time.perf_counter()
    cpu = time.process_time()
    for _ in range(frames):
        fn()
    return (time.perf_counter() - wall) / frames * 1000, (time.process_time() - cpu) / frames * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--size", type=int, default=416)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", help="write the tensor of the last frame here (raw float32)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    with open(args.image, "rb") as f:
        buf = np.frombuffer(f.read(), np.uint8)
    for _ in range(args.warmup):
        preprocess(buf, args.size)
    ms, cpu_ms = timed(lambda: preprocess(buf, args.size), args.frames)
    decode_ms, _ = timed(lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR), args.frames)
    if args.out:
        preprocess(buf, args.size).tofile(args.out)
    print(json.dumps({
        "frames": args.frames,
        "msPerFrame": ms,
        "cpuMsPerFrame": cpu_ms,
        "decodeMsPerFrame": decode_ms,
        "opencv": cv2.__version__,
    }))


if __name__ == "__main__":
    main()
