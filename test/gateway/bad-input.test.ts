import t from 'tap';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import type { InjectOptions } from 'fastify';
import { image } from '../helpers/env.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, netCharged, sharedEngine } from './helpers.js';

const bus = readFileSync(image('bus.jpg'));

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid, tiny PNG that claims 10000×10000 grey pixels: 100 megapixels of zeros compressed ~1000:1. */
function pngBomb(): Buffer {
  const side = 10_000;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((side + 1) * side); // filter byte 0 + zero pixels per row
  const idat = deflateSync(raw, { level: 9 });
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function multipart30(auth: Record<string, string>): InjectOptions {
  const boundary = '----ys-bad-input';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    bus,
    Buffer.alloc(30 * 1024 * 1024),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body };
}

t.test('gateway bad input - each gets its status and JSON error, nothing is charged, the gateway keeps serving', async (t) => {
  const engine = await sharedEngine(t);
  const backend = new EngineBackend(engine);
  const { ledger, key, tenantId } = await ledgerWithTenant(t);
  const { app } = await gatewayApp(t, backend, ledger);
  const auth = { 'x-auth-token': key };
  const bomb = pngBomb();
  t.ok(bomb.length < 200_000, `the PNG bomb is small (${bomb.length} bytes)`);

  const cases: Array<{ name: string; status: number; code: string; req: InjectOptions }> = [
    { name: 'undecodable file', status: 400, code: 'bad_image', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: Buffer.from('this is not an image at all, just text bytes') } },
    { name: 'truncated JPEG', status: 400, code: 'bad_image', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus.subarray(0, Math.floor(bus.length / 3)) } },
    { name: 'empty body', status: 400, code: 'bad_image', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: Buffer.alloc(0) } },
    { name: '100-megapixel PNG bomb', status: 413, code: 'too_large', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/png' }, payload: bomb } },
    { name: '100-megapixel PNG bomb as base64 JSON', status: 413, code: 'too_large', req: { method: 'POST', url: '/v1/detect', headers: auth, payload: { image: bomb.toString('base64') } } },
    { name: '30 MB body', status: 413, code: 'too_large', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: Buffer.concat([bus, Buffer.alloc(30 * 1024 * 1024 - bus.length)]) } },
    { name: '30 MB multipart file', status: 413, code: 'too_large', req: multipart30(auth) },
    { name: 'wrong content type', status: 415, code: 'unsupported_media_type', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' } },
    { name: 'GIF image', status: 415, code: 'unsupported_media_type', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1') } },
    { name: 'malformed JSON', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"image": "abc' } },
    { name: 'JSON without an image', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect', headers: auth, payload: { model: 'yolox-nano' } } },
    { name: 'unknown model', status: 400, code: 'unknown_model', req: { method: 'POST', url: '/v1/detect?model=yolo-giant', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus } },
    { name: 'conf=2', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect?conf=2', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus } },
    { name: 'conf=2 in JSON', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect', headers: auth, payload: { image: bus.toString('base64'), conf: 2 } } },
    { name: 'maxDet=0', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect?maxDet=0', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus } },
    { name: 'unknown class', status: 400, code: 'bad_request', req: { method: 'POST', url: '/v1/detect?classes=unicorn', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus } },
  ];
  for (const c of cases) {
    const res = await app.inject(c.req);
    t.equal(res.statusCode, c.status, `${c.name}: status ${c.status}`);
    let body: { error?: { code?: string; message?: string } } = {};
    try {
      body = res.json();
    } catch {
      t.fail(`${c.name}: body is JSON`);
    }
    t.equal(body.error?.code, c.code, `${c.name}: code ${c.code}`);
    t.ok(typeof body.error?.message === 'string' && body.error.message.length > 0, `${c.name}: has a message`);
    t.ok(res.headers['x-tokens-remaining'], `${c.name}: token headers on an authenticated error`);
  }
  const { net, charged, refunded } = await netCharged(ledger, tenantId);
  t.equal(net, 0, `nothing charged (charged ${charged}, refunded ${refunded})`);
  const ok = await app.inject({ method: 'POST', url: '/v1/detect', headers: { ...auth, 'content-type': 'image/jpeg' }, payload: bus });
  t.equal(ok.statusCode, 200, 'the gateway keeps serving');
  t.ok(ok.json().detections.length > 0);
});
