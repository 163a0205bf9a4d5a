/** A small recording WebSocket client (the `ws` package) for the stream tests. */
import WebSocket from 'ws';

/** A server message as received. */
export type StreamMessage = { type: string; frame?: number; [k: string]: unknown };

/** A connected client that records every message and the close. */
export interface RecordingClient {
  ws: WebSocket;
  messages: StreamMessage[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `pred` holds for the recorded messages (rejects after `timeoutMs`). */
  until(pred: (messages: StreamMessage[]) => boolean, timeoutMs?: number): Promise<void>;
}

/** Opens `url` and resolves when the socket is open (or closed before opening). */
export async function connect(url: string, headers: Record<string, string> = {}): Promise<RecordingClient> {
  const ws = new WebSocket(url, { headers });
  const messages: StreamMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(String(data)) as StreamMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    });
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
  });
  const until = (pred: (m: StreamMessage[]) => boolean, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      if (pred(messages)) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms with ${messages.length} messages`));
      }, timeoutMs);
      const check = () => {
        if (pred(messages) || ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
    });
  return { ws, messages, closed, until };
}
