// Random HTTP requests and WebSocket messages against a gateway over a real
// scheduler process and an echo worker process (real ZeroMQ), with a real
// SQLite ledger: only documented answers, a charge only for what was served,
// and the gateway keeps serving. fast-check prints the seed on failure.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import WebSocket from 'ws';
import type { InjectOptions } from 'fastify';
import { ErrorCode, SchedulerClient, YoloscaleError } from '../../protocol/index.js';
import { CloseCode } from '../../gateway/index.js';
import { image } from '../helpers/env.js';
import { startScheduler, startWorker } from '../helpers/processes.js';
import { gatewayApp, ledgerWithTenant, listen, netCharged } from '../gateway/helpers.js';
import { connect } from '../gateway/ws-client.js';

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));
/** Statuses SPEC §5 documents for POST /v1/detect that bad input may get (no 5xx: the cluster is healthy). */
const DOCUMENTED = new Set([200, 400, 403, 413, 415]);
/** Close codes of SPEC §5 plus the normal ones. */
const CLOSE_CODES = new Set([1000, 1005, CloseCode.auth, CloseCode.modelNotInPlan, CloseCode.tokensExhausted, CloseCode.messageTooBig, CloseCode.policy]);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

t.test('fuzz gateway', async (t) => {
  const s = await startScheduler(t, { maxDelayMs: 2 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'fuzz-echo' });
  const backend = new SchedulerClient({ endpoint: s.clientEndpoint });
  t.teardown(() => backend.close());
  backend.connect();
  await backend.waitReady(15_000);
  const { ledger, key, tenantId } = await ledgerWithTenant(t);
  const { app } = await gatewayApp(t, backend, ledger);
  const base = await listen(app);
  const small = await sharp(readFileSync(image('bus.jpg'))).resize(64).jpeg().toBuffer();
  const wellFormed: InjectOptions = { method: 'POST', url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: small };

  t.test('POST /v1/detect - random bodies, content types and parameters', async (t) => {
    const imageLike = fc.oneof(
      bytes(64),
      bytes(64).map((b) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x00, 0x01, 0x40]), b])),
      bytes(64).map((b) => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR', 'latin1'), b])),
      bytes(64).map((b) => Buffer.concat([Buffer.from('RIFF\0\0\0\0WEBPVP8X', 'latin1'), b])),
      fc.nat({ max: small.length }).map((n) => small.subarray(0, n)),
      { weight: 4, arbitrary: fc.constant(small) },
    );
    const boundary = 'fuzzBoundary';
    const body = fc.oneof(
      imageLike.map((b) => ({ kind: 'raw', payload: b as string | Buffer })),
      fc.json().map((j) => ({ kind: 'json', payload: j as string | Buffer })),
      fc.record({ image: imageLike.map((b) => b.toString('base64')), conf: fc.anything({ maxDepth: 1 }) }, { requiredKeys: ['image'] }).map((o) => ({ kind: 'json', payload: JSON.stringify(o) as string | Buffer })),
      fc.tuple(fc.constantFrom('image', 'file', 'conf', ''), imageLike, fc.string({ maxLength: 8 })).map(([field, b, extra]) => ({
        kind: 'multipart',
        payload: Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
          b,
          Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="conf"\r\n\r\n${extra}\r\n--${boundary}--\r\n`),
        ]) as string | Buffer,
      })),
      fc.string({ maxLength: 64 }).map((x) => ({ kind: 'text', payload: x as string | Buffer })),
    );
    const contentType = fc.oneof(
      { weight: 4, arbitrary: fc.constant('matching') },
      fc.constantFrom('image/jpeg', 'image/png', 'image/webp', 'application/octet-stream', 'application/json', `multipart/form-data; boundary=${boundary}`, 'multipart/form-data', 'text/plain', 'application/x-www-form-urlencoded', 'image/gif', 'application/json; charset=utf-16'),
      fc.string({ maxLength: 20 }),
    );
    const MATCHING: Record<string, string> = { raw: 'image/jpeg', json: 'application/json', multipart: `multipart/form-data; boundary=${boundary}`, text: 'text/plain' };
    const query = fc.dictionary(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom('model', 'conf', 'iou', 'classes', 'maxDet') }, fc.constantFrom('tenant', 'tenantId'), fc.string({ minLength: 1, maxLength: 6 })),
      fc.oneof(fc.constantFrom('echo', 'yolox-nano', '0.5', '-1', '2', '1e309', 'NaN', '', '0', '80', 'person,dog'), fc.string({ maxLength: 12 }), fc.double().map(String)),
      { maxKeys: 2 },
    );
    const request = fc.record({ body, contentType: fc.option(contentType, { nil: undefined, freq: 10 }), query, jpegOut: fc.boolean() });

    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ body: b, contentType: ct, query: q, jpegOut }) => {
        const before = (await netCharged(ledger, tenantId)).net;
        const headers: Record<string, string> = { 'x-auth-token': key };
        if (ct !== undefined) headers['content-type'] = ct === 'matching' ? MATCHING[b.kind] : ct;
        if (jpegOut) headers.accept = 'image/jpeg';
        const res = await app.inject({ method: 'POST', url: '/v1/detect', query: q, headers, payload: b.payload });
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        const delta = (await netCharged(ledger, tenantId)).net - before;
        const what = `${b.kind} body, content-type ${JSON.stringify(ct)}, query ${JSON.stringify(q)}: ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (!DOCUMENTED.has(res.statusCode)) throw new Error(`undocumented status: ${what}`);
        if (res.statusCode === 200) {
          if (jpegOut) {
            if (!String(res.headers['content-type']).startsWith('image/jpeg') || delta < 1) throw new Error(`annotated answer without a charge: ${what}`);
          } else if (res.json().tokens.charged !== delta) throw new Error(`charged ${delta}, result says ${res.json().tokens.charged}: ${what}`);
          return;
        }
        if (delta !== 0) throw new Error(`charged ${delta} for a refusal: ${what}`);
        if (!String(res.headers['content-type']).startsWith('application/json')) throw new Error(`error is not JSON: ${what}`);
        const err = res.json().error as { code: string; message: string };
        if (!CODES.has(err.code) || typeof err.message !== 'string') throw new Error(`error body not {code,message}: ${what}`);
        if (new YoloscaleError(err.code as ErrorCode, '').httpStatus !== res.statusCode) throw new Error(`code ${err.code} does not match status: ${what}`);
      }),
      { numRuns: 1000 },
    );
    t.ok((seen.get(200) ?? 0) > 0 && (seen.get(400) ?? 0) > 0, `answers by status: ${JSON.stringify(Object.fromEntries(seen))}`);
    const ok = await app.inject(wellFormed);
    t.equal(ok.statusCode, 200, 'a well-formed request is still served');
    t.equal(ok.json().model, 'echo');
  });

  t.test('WebSocket /v1/stream - random binary and text messages: answers or documented close codes', async (t) => {
    const message = fc.oneof(
      bytes(200).map((b) => ({ binary: true, data: b as Buffer | string })),
      fc.constant({ binary: true, data: small as Buffer | string }),
      fc.json().map((j) => ({ binary: false, data: j as Buffer | string })),
      fc.record({ type: fc.constant('config'), model: fc.constantFrom('echo', 'nope', ''), conf: fc.oneof(fc.double(), fc.string()), maxDet: fc.integer() }, { requiredKeys: ['type'] }).map((o) => ({ binary: false, data: JSON.stringify(o) as Buffer | string })),
      fc.string({ maxLength: 40 }).map((x) => ({ binary: false, data: x as Buffer | string })),
    );
    const closes: number[] = [];
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 6 }), async (messages) => {
        const c = await connect(`${base.replace('http', 'ws')}/v1/stream?model=echo`, { 'x-auth-token': key });
        if (c.ws.readyState !== WebSocket.OPEN) throw new Error('stream did not open');
        for (const m of messages) c.ws.send(m.data, { binary: m.binary });
        // Every message gets an answer (result, dropped, error or config) unless the stream closes first.
        await c.until((ms) => ms.length >= messages.length, 10_000).catch(() => undefined);
        for (const m of c.messages) {
          if (!['detections', 'dropped', 'error', 'config'].includes(m.type)) throw new Error(`unknown message type ${m.type}`);
          if (m.type === 'error' && !CODES.has(String(m.code))) throw new Error(`unknown error code ${String(m.code)}`);
        }
        answered += c.messages.length;
        c.ws.close();
        const { code } = await c.closed;
        closes.push(code);
        if (!CLOSE_CODES.has(code)) throw new Error(`undocumented close code ${code}`);
      }),
      { numRuns: 60 },
    );
    t.ok(answered > 0, `${answered} answers over 60 random streams; close codes ${[...new Set(closes)].join(', ')}`);
    const c = await connect(`${base.replace('http', 'ws')}/v1/stream?model=echo`, { 'x-auth-token': key });
    c.ws.send(small);
    await c.until((ms) => ms.some((m) => m.type === 'detections'));
    t.ok(c.messages.some((m) => m.type === 'detections'), 'a new stream is still served');
    c.ws.close();
    await c.closed;
    t.equal((await app.inject(wellFormed)).statusCode, 200, 'and so is REST');
  });
});
