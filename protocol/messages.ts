/**
 * Cluster messages (SPEC.md §2, §8): the kinds exchanged between workers and
 * the scheduler (ROUTER `:5555`) and between gateways and the scheduler
 * (ROUTER `:5556`).
 *
 * On the wire every message is a multipart ZeroMQ message
 * `[version, header, ...images]`: `version` is the 4 ASCII bytes of
 * {@link PROTOCOL_VERSION}, `header` one msgpack map holding a
 * {@link Message}, and `images` the encoded image bytes as their own frames
 * (never inside msgpack): one per frame of a `batch` or a `submit`.
 */
import type { DetectionResult, DetectParams, Lane } from './detection.js';
import type { ErrorCode } from './errors.js';

/** Protocol version carried in the first frame of every message. */
export const PROTOCOL_VERSION = 'YS02';

/** Every message kind. */
export const MessageKind = Object.freeze({
  /** worker → scheduler: announce a node (sent at start and on `reregister`). */
  register: 'register',
  /** scheduler → worker: registration accepted. */
  registered: 'registered',
  /** worker → scheduler: liveness, every second. */
  heartbeat: 'heartbeat',
  /** scheduler → worker: "I do not know you" (the scheduler restarted): register again. */
  reregister: 'reregister',
  /** scheduler → worker: run these frames of one model; one image frame per entry. */
  batch: 'batch',
  /** worker → scheduler: per-frame outcomes of one batch. */
  result: 'result',
  /** both ways: the node drains (finishes in-flight work, takes no new work). */
  drain: 'drain',
  /** worker → scheduler: draining finished, nothing in flight. */
  drained: 'drained',
  /** scheduler → worker: the node is retired; the agent stops. */
  retire: 'retire',
  /** gateway → scheduler: frames to detect; one image frame each. */
  submit: 'submit',
  /** scheduler → gateway: results or typed errors of submitted frames. */
  reply: 'reply',
  /** gateway → scheduler: ask for a `status`. */
  ping: 'ping',
  /** scheduler → gateway: cluster readiness and offered models. */
  status: 'status',
  /**
   * scheduler → gateway: send these frames' images again. The scheduler lets
   * go of an image once its batch is on a worker; when that worker is lost,
   * the frames are re-queued with the images their gateway still holds.
   */
  resend: 'resend',
  /** gateway → scheduler: the images asked for, one image frame per id; `missing` ones it no longer has. */
  resent: 'resent',
} as const);

/** Union of the kinds above. */
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** A model a worker offers, as the gateway lists it (`GET /v1/models`). */
export interface ModelInfo {
  /** Catalog id, e.g. `yolox-nano`. */
  id: string;
  /** Tokens one frame of up to 1080p area costs (SPEC.md §7). */
  tokensPerFrame: number;
  /** Square network input side in pixels, where known. */
  inputSize?: number;
  /** Output family, where known. */
  family?: string;
  /** One-line description, where known. */
  description?: string;
  /** Class names by id, where known. */
  classNames?: readonly string[];
}

/** Announces a worker node. */
export interface RegisterMessage {
  kind: 'register';
  nodeId: string;
  /** Execution device the engine chose (`cpu`, `cuda`). */
  device: string;
  /** Engine threads: batches the node runs at once. */
  threads: number;
  /** Frames the node accepts in flight at most. */
  slots: number;
  /** Models loaded now (preferred by placement). */
  loaded: string[];
  /** Every model the node can serve (loaded or loadable). */
  models: ModelInfo[];
  host: string;
  pid: number;
  /** Frames in flight on the node (non-zero when re-registering after a scheduler restart). */
  inFlight: number;
  /** True when the node is draining already. */
  draining: boolean;
}

/** Registration accepted. */
export interface RegisteredMessage {
  kind: 'registered';
  nodeId: string;
  /** Heartbeat period the scheduler expects, in milliseconds. */
  heartbeatMs: number;
}

/** Worker liveness. */
export interface HeartbeatMessage {
  kind: 'heartbeat';
  nodeId: string;
  /** Frames in flight on the node. */
  inFlight: number;
  /** Models loaded now. */
  loaded: string[];
  draining: boolean;
}

/** Scheduler does not know the sender: register again. */
export interface ReregisterMessage {
  kind: 'reregister';
}

/** One frame of a batch; its image is the image frame at the same index. */
export interface BatchFrame {
  /** Scheduler-wide frame id, echoed in the result. */
  id: number;
  params: DetectParams;
}

/** Frames of one model for a worker. */
export interface BatchMessage {
  kind: 'batch';
  batchId: number;
  model: string;
  frames: BatchFrame[];
}

/** Per-frame failure inside a result. */
export interface FrameError {
  code: ErrorCode;
  message: string;
}

/** Outcome of one frame of a batch: a result or an error. */
export type FrameOutcome = { id: number; result: DetectionResult; error?: undefined } | { id: number; error: FrameError; result?: undefined };

/** Outcomes of one batch, one per frame. */
export interface ResultMessage {
  kind: 'result';
  batchId: number;
  outcomes: FrameOutcome[];
}

/** The node drains (scheduler → worker: please drain; worker → scheduler: I am draining). */
export interface DrainMessage {
  kind: 'drain';
  nodeId: string;
}

/** The node finished draining. */
export interface DrainedMessage {
  kind: 'drained';
  nodeId: string;
}

/** The node is retired; its agent stops. */
export interface RetireMessage {
  kind: 'retire';
  nodeId: string;
}

/** One frame of a `submit`; its image is the image frame at the same index. */
export interface SubmitFrameHeader {
  /** Client-side correlation number, echoed in the reply. */
  seq: number;
  /** Caller's frame id (logs, idempotency). */
  frameId: string;
  model: string;
  params: DetectParams;
  tenant: string;
  /** Fair-share weight: the tenant's plan tokens per hour. */
  weight: number;
  /** Tokens the frame costs. */
  cost: number;
  lane: Lane;
  /** Time left until the deadline when sent, in milliseconds (relative, so host clocks need not agree). */
  budgetMs: number;
}

/**
 * Frames from a gateway: the frames its client submitted in the same tick
 * travel together, one image frame each (fewer messages under load, the same
 * one-frame message when idle).
 */
export interface SubmitMessage {
  kind: 'submit';
  frames: SubmitFrameHeader[];
}

/** Failure of one submitted frame. */
export interface SubmitError {
  code: ErrorCode;
  message: string;
  retryAfterS?: number;
}

/** Outcome of one submitted frame: its result or a typed error. */
export type ReplyOutcome = { seq: number; result: DetectionResult; error?: undefined } | { seq: number; error: SubmitError; result?: undefined };

/** Outcomes of submitted frames for one gateway (those ready at the same moment travel together). */
export interface ReplyMessage {
  kind: 'reply';
  outcomes: ReplyOutcome[];
}

/** Gateway asks for a `status`. */
export interface PingMessage {
  kind: 'ping';
}

/** Cluster readiness as the scheduler sees it. */
export interface StatusMessage {
  kind: 'status';
  /** Nodes in state `ready`. */
  readyNodes: number;
  /** Models offered by ready nodes. */
  models: ModelInfo[];
}

/** One frame whose image the scheduler needs again. */
export interface ResendFrame {
  /** Scheduler frame id, echoed in `resent`. */
  id: number;
  /** The gateway's correlation number of the frame (its `submit` seq). */
  seq: number;
}

/** Images the scheduler needs again after losing the worker that ran them. */
export interface ResendMessage {
  kind: 'resend';
  frames: ResendFrame[];
}

/** The asked-for images: one image frame per entry of `ids`, in order. */
export interface ResentMessage {
  kind: 'resent';
  ids: number[];
  /** Frames the gateway no longer waits for (answered or given up): the scheduler forgets them. */
  missing: number[];
}

/** Every message of the protocol, discriminated by `kind`. */
export type Message =
  | RegisterMessage
  | RegisteredMessage
  | HeartbeatMessage
  | ReregisterMessage
  | BatchMessage
  | ResultMessage
  | DrainMessage
  | DrainedMessage
  | RetireMessage
  | SubmitMessage
  | ReplyMessage
  | PingMessage
  | StatusMessage
  | ResendMessage
  | ResentMessage;

/** The message of one kind. */
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;

/** Number of image frames a message must carry beside its header. */
export function imageCount(message: Message): number {
  if (message.kind === MessageKind.batch) return message.frames.length;
  if (message.kind === MessageKind.submit) return message.frames.length;
  if (message.kind === MessageKind.resent) return message.ids.length;
  return 0;
}
