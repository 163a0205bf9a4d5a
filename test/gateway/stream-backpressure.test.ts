import t from 'tap';
import type { WebSocket as ServerSocket } from 'ws';
import { EngineBackend, gatewayApp, ledgerWithTenant, listen, netCharged, sharedEngine, videoFrames } from './helpers.js';
import { connect } from './ws-client.js';

// Real models on a shared 2-core machine: allow for a loaded host (typical run well under a minute).
t.setTimeout(300_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('gateway streaming backpressure', async (t) => {
  const engine = await sharedEngine(t, ['yolov5n-256']);
  const backend = new EngineBackend(engine);
  const frames = videoFrames(t, 40, { startS: 25, width: 320 }); // small frames: cheap to decode, results as big (one box per anchor)

  t.test('stream - a client that stops reading does not grow the gateway buffers; frames are dropped before they are charged', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const maxBuffered = 64 * 1024;
    const { app } = await gatewayApp(t, backend, ledger, { streamMaxBufferedBytes: maxBuffered });
    const ws = (await listen(app)).replace('http', 'ws');
    // A fast model with low conf, no suppression (iou=1) and a high maxDet: each result is ~100 KB, so the
    // kernel's socket buffers (megabytes) fill within seconds and the gateway's own bound comes into play.
    const c = await connect(`${ws}/v1/stream?conf=0.001&iou=1&maxDet=1000`, { 'x-auth-token': key });
    c.ws.pause(); // stops reading from the socket; sending goes on
    let peak = 0;
    const server = (app as unknown as { websocketServer: { clients: Set<ServerSocket> } }).websocketServer;
    const sampler = setInterval(() => {
      for (const s of server.clients) peak = Math.max(peak, s.bufferedAmount);
    }, 5);
    const heapBefore = process.memoryUsage().heapUsed;
    const small = frames.slice(0, 40);
    const toBackend = () => backend.submitted.filter((f) => f.tenant === tenantId).length;
    const deadline = Date.now() + 60_000;
    let sent = 0;
    let stall: { sent: number; submitted: number } | null = null;
    while (Date.now() < deadline) {
      c.ws.send(small[sent % small.length]);
      sent++;
      await sleep(20);
      if (!stall && peak > maxBuffered) stall = { sent, submitted: toBackend() };
      if (stall && sent - stall.sent >= 150) break;
    }
    clearInterval(sampler);
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    t.ok(stall, `the stalled client's buffer reached the bound (peak ${peak} bytes after ${stall?.sent} frames)`);
    if (stall) {
      const after = toBackend() - stall.submitted;
      t.ok(after <= 2, `while the client does not read, frames stop going to the backend (${after} of ${sent - stall.sent} sent)`);
    }
    // One message may be handed over while under the bound: the bound plus one result.
    t.ok(peak <= maxBuffered + 256 * 1024, `server-side bufferedAmount stayed bounded (peak ${peak} bytes)`);
    t.ok(heapGrowthMb < 64, `heap grew ${heapGrowthMb.toFixed(1)} MB while ${sent} frames were sent`);
    c.ws.resume();
    for (let last = -1; last !== c.messages.length; ) {
      last = c.messages.length;
      await sleep(500);
    }
    const delivered = c.messages.filter((m) => m.type === 'detections').length;
    c.ws.close();
    await c.closed;
    await sleep(200);
    t.equal((await netCharged(ledger, tenantId)).net, delivered, `charged − refunded = results the client received (${delivered})`);
    const other = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    other.ws.send(frames[0]);
    await other.until((m) => m.length > 0);
    t.equal(other.messages[0].type, 'detections', 'the gateway keeps serving');
    other.ws.close();
  });
});
