// Regression (found by the chaos suite's gateway restart): a result finished
// while its WebSocket was closing (close frame sent, 'close' event not yet
// fired) was counted delivered, but `ws` drops data sent in that state
// silently, so the frame stayed charged with nothing delivered. It must be
// refunded as undeliverable.
import t from 'tap';
import type { Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { StreamSession } from '../../gateway/index.js';

t.test('stream-session - a result that meets a closing socket is refunded, not counted delivered', async (t: Test) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  t.teardown(() => client.terminate());
  const received: string[] = [];
  client.on('message', (d) => received.push(String(d)));
  // The client does not answer the close handshake at once (it is busy), so the server socket stays CLOSING.
  await new Promise<void>((r) => client.once('open', () => r()));
  const socket = await serverSide;

  const refunds: string[] = [];
  let finish: () => void = () => {};
  const session = new StreamSession({
    sink: socket,
    runFrame: async () => {
      await new Promise<void>((r) => (finish = r));
      return { kind: 'detections', result: { detections: [] }, refund: async (reason) => void refunds.push(reason) };
    },
  });
  session.push(Buffer.from('frame'));
  client.pause(); // the close frame waits unread
  socket.close(1001, 'going away');
  t.equal(socket.readyState, WebSocket.CLOSING);
  finish();
  await new Promise((r) => setTimeout(r, 100));
  t.same(refunds, ['undeliverable'], 'the frame nobody could receive is refunded');
  t.equal(session.stats.delivered, 0);
  t.equal(session.stats.undeliverable, 1);
  client.resume();
  await new Promise((r) => setTimeout(r, 100));
  t.same(received, [], 'and indeed nothing reached the client');
});
