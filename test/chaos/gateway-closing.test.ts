// Regression (found by the chaos suite's gateway restart): a request that
// reaches a closing gateway got fastify's own 503 body, without an error code
// or Retry-After; it must get the SPEC's error shape so clients know to retry.
import { connect } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { ErrorCode } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import type { BackendFrame, DetectionBackend } from '../../gateway/index.js';
import { gatewayApp, ledgerWithTenant, listen } from '../gateway/helpers.js';
import { PHOTO } from '../helpers/cluster.js';

/** An echo backend that holds every frame until `release()`. */
class HeldBackend implements DetectionBackend {
  held: Array<() => void> = [];
  async submit(frame: BackendFrame): Promise<DetectionResult> {
    await new Promise<void>((r) => this.held.push(r));
    return { model: frame.model, image: { width: 1, height: 1 }, detections: [], timing: { queueMs: 0, inferMs: 0, totalMs: 0 } };
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  ready() {
    return { scheduler: true, workers: 1 };
  }
  models() {
    return [{ id: 'echo', tokensPerFrame: 1 }];
  }
}

t.test('gateway closing - a request arriving during shutdown gets 503 no_capacity with Retry-After; in-flight work finishes', async (t: Test) => {
  const backend = new HeldBackend();
  const { ledger, key } = await ledgerWithTenant(t);
  const { app } = await gatewayApp(t, backend, ledger);
  const port = Number(new URL(await listen(app)).port);
  // Two requests on one keep-alive connection, the second sent once the close began while the first still runs
  // (a client reusing its connection during a restart).
  const sock = connect(port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let raw = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => (raw += d));
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write(`POST /v1/detect?model=echo HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${key}\r\nContent-Type: image/jpeg\r\nContent-Length: ${PHOTO.length}\r\n\r\n`);
  sock.write(PHOTO);
  while (backend.held.length === 0) await new Promise((r) => setTimeout(r, 10));
  const closed = app.close();
  await new Promise((r) => setTimeout(r, 100));
  sock.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));
  backend.release();
  await closed;
  await ended;
  const answers = raw.split(/(?=HTTP\/1\.1 )/);
  t.equal(answers.length, 2, 'both requests answered');
  t.match(answers[0], /^HTTP\/1\.1 200 /, 'the request in flight when the close began is answered');
  t.match(answers[1], /^HTTP\/1\.1 503 /);
  t.match(answers[1], /\r\nretry-after: 1\r\n/i);
  const body = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4)) as unknown;
  t.match(body, { error: { code: ErrorCode.noCapacity } });
});
