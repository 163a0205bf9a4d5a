// A real local HTTP receiver for webhook tests: records every request, answers by a policy.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from '../helpers/processes.js';

/** One request the receiver got. */
export interface Received {
  body: string;
  json: { id: string; type: string; tenant: string; at: string; data: Record<string, unknown> };
  headers: IncomingMessage['headers'];
  /** Status answered (0 when the receiver never answered). */
  status: number;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Requests answered 2xx. */
  accepted(): Received[];
}

/**
 * Starts a receiver on a free port; `answer` picks the status for each request
 * (and may wait first, to play a slow receiver). Closed at teardown.
 */
export async function startReceiver(t: Teardown, answer: (r: Received, n: number) => Promise<number> | number): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const r: Received = { body, json: JSON.parse(body) as Received['json'], headers: req.headers, status: 0 };
      received.push(r);
      Promise.resolve(answer(r, received.filter((x) => x.json.id === r.json.id).length)).then((status) => {
        if (res.destroyed) return;
        r.status = status;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      }, () => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/yoloscale`, received, accepted: () => received.filter((r) => r.status >= 200 && r.status < 300) };
}
