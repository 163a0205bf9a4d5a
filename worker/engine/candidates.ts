/**
 * A growable struct-of-arrays of scored boxes: what decoders produce and NMS
 * consumes. Boxes are `x1,y1,x2,y2` in model-input pixels.
 */
export class Candidates {
  #capacity: number;
  /** Box corners, 4 per candidate. */
  boxes: Float32Array;
  /** Scores in 0..1. */
  scores: Float32Array;
  /** Class ids. */
  classIds: Int32Array;
  /** Number of candidates held. */
  count = 0;

  constructor(initialCapacity = 256) {
    this.#capacity = Math.max(1, initialCapacity);
    this.boxes = new Float32Array(this.#capacity * 4);
    this.scores = new Float32Array(this.#capacity);
    this.classIds = new Int32Array(this.#capacity);
  }

  #grow(): void {
    const cap = this.#capacity * 2;
    const boxes = new Float32Array(cap * 4);
    boxes.set(this.boxes);
    const scores = new Float32Array(cap);
    scores.set(this.scores);
    const classIds = new Int32Array(cap);
    classIds.set(this.classIds);
    this.boxes = boxes;
    this.scores = scores;
    this.classIds = classIds;
    this.#capacity = cap;
  }

  /** Appends one candidate. */
  push(x1: number, y1: number, x2: number, y2: number, score: number, classId: number): void {
    if (this.count === this.#capacity) this.#grow();
    const i = this.count++;
    const b = i * 4;
    this.boxes[b] = x1;
    this.boxes[b + 1] = y1;
    this.boxes[b + 2] = x2;
    this.boxes[b + 3] = y2;
    this.scores[i] = score;
    this.classIds[i] = classId;
  }

  /** Appends a box given by centre and size. */
  pushCentre(cx: number, cy: number, w: number, h: number, score: number, classId: number): void {
    const hw = w / 2;
    const hh = h / 2;
    this.push(cx - hw, cy - hh, cx + hw, cy + hh, score, classId);
  }
}
