/**
 * A minimal protocol-buffers wire-format reader and writer: enough to read
 * and rewrite ONNX files without a schema compiler. Fields are kept as raw
 * byte ranges, so untouched sub-messages (weights) are copied verbatim.
 */

/** Wire types of the protobuf encoding. */
export const WireType = Object.freeze({ varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const);

/** One field of a message, in file order. */
export type PbField =
  | { no: number; wt: 0; value: bigint }
  | { no: number; wt: 1 | 5; raw: Uint8Array }
  | { no: number; wt: 2; raw: Uint8Array };

/** Error thrown on malformed protobuf input. */
export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** Fast path for small varints (tags, lengths); falls back to BigInt when needed. */
function readSmallVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mult = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return [result, pos];
    mult *= 128;
  }
  throw new ProtobufError('length or tag varint too large');
}

/** Splits one message into its fields (not recursive). */
export function readFields(buf: Uint8Array): PbField[] {
  const fields: PbField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readSmallVarint(buf, pos);
    pos = p1;
    const no = Math.floor(tag / 8);
    const wt = tag & 7;
    if (no === 0) throw new ProtobufError('field number 0');
    if (wt === 0) {
      const [value, p2] = readVarint(buf, pos);
      fields.push({ no, wt: 0, value });
      pos = p2;
    } else if (wt === 1 || wt === 5) {
      const len = wt === 1 ? 8 : 4;
      if (pos + len > buf.length) throw new ProtobufError('truncated fixed field');
      fields.push({ no, wt, raw: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wt === 2) {
      const [len, p2] = readSmallVarint(buf, pos);
      pos = p2;
      if (pos + len > buf.length) throw new ProtobufError('truncated length-delimited field');
      fields.push({ no, wt: 2, raw: buf.subarray(pos, pos + len) });
      pos += len;
    } else {
      throw new ProtobufError(`unsupported wire type ${wt}`);
    }
  }
  return fields;
}

function varintBytes(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}

/** Encodes fields back into one message. */
export function writeFields(fields: readonly PbField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const f of fields) {
    const head = varintBytes(BigInt(f.no * 8 + f.wt));
    if (f.wt === 0) {
      const body = Uint8Array.from([...head, ...varintBytes(f.value)]);
      parts.push(body);
      total += body.length;
    } else if (f.wt === 2) {
      const prefix = Uint8Array.from([...head, ...varintBytes(BigInt(f.raw.length))]);
      parts.push(prefix, f.raw);
      total += prefix.length + f.raw.length;
    } else {
      const prefix = Uint8Array.from(head);
      parts.push(prefix, f.raw);
      total += prefix.length + f.raw.length;
    }
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8');
const utf8Enc = new TextEncoder();

/** Decodes a length-delimited field as UTF-8 text. */
export function fieldText(f: PbField): string {
  return f.wt === 2 ? utf8.decode(f.raw) : '';
}

/** A length-delimited field holding UTF-8 text. */
export function textField(no: number, text: string): PbField {
  return { no, wt: 2, raw: utf8Enc.encode(text) };
}

/** A length-delimited field holding a sub-message. */
export function messageField(no: number, fields: readonly PbField[]): PbField {
  return { no, wt: 2, raw: writeFields(fields) };
}

/** A varint field (int64 values are stored two's-complement). */
export function varintField(no: number, value: bigint | number): PbField {
  return { no, wt: 0, value: BigInt(value) };
}

/** Reads a varint field as a signed 64-bit number (exact up to 2^53). */
export function fieldInt(f: PbField): number {
  return f.wt === 0 ? Number(BigInt.asIntN(64, f.value)) : 0;
}

/** Decodes packed or unpacked repeated int64 values of field `no`. */
export function repeatedInt64(fields: readonly PbField[], no: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wt === 0) out.push(fieldInt(f));
    else if (f.wt === 2) {
      let pos = 0;
      while (pos < f.raw.length) {
        const [v, p] = readVarint(f.raw, pos);
        out.push(Number(BigInt.asIntN(64, v)));
        pos = p;
      }
    }
  }
  return out;
}
