// Property tests of the one codec (protocol/codec.ts): whatever arrives, the
// decoder answers a typed refusal or a message that re-encodes to itself;
// it never throws. fast-check prints the seed and the shrunk input on failure.
import t from 'tap';
import fc from 'fast-check';
import { DropReason, MessageKind, PROTOCOL_VERSION, decodeMessage, encodeMessage, imageCount } from '../../protocol/index.js';
import type { Decoded, Refused } from '../../protocol/index.js';
import { VERSION, anyHeader, foreignFrames, mutatedMessage, otherVersion, validMessage } from './arbitraries.js';

const REASONS: ReadonlySet<string> = new Set(Object.values(DropReason));
const KINDS: ReadonlySet<string> = new Set(Object.values(MessageKind));

/** Decodes, turning a throw into a failure that names it; checks the shape of the answer. */
function decodeChecked(frames: Buffer[]): Decoded | Refused {
  let d: Decoded | Refused;
  try {
    d = decodeMessage(frames);
  } catch (err) {
    throw new Error(`decodeMessage threw: ${String(err)}`);
  }
  if (d.ok) {
    if (!KINDS.has(d.message.kind)) throw new Error(`unknown kind ${String(d.message.kind)} accepted`);
    if (d.images.length !== imageCount(d.message)) throw new Error('image frame count does not match the header');
    const again = decodeMessage(encodeMessage(d.message, d.images));
    if (!again.ok) throw new Error(`an accepted message does not re-encode: ${again.detail}`);
    if (JSON.stringify(again.message) !== JSON.stringify(d.message)) throw new Error('an accepted message changes when re-encoded');
  } else {
    if (!REASONS.has(d.reason)) throw new Error(`refusal with an unknown reason ${String(d.reason)}`);
    if (typeof d.detail !== 'string' || d.detail === '') throw new Error('refusal without a detail');
  }
  return d;
}

t.test('fuzz codec - every valid message of every kind round-trips', async (t) => {
  fc.assert(
    fc.property(validMessage, ({ message, images }) => {
      const d = decodeChecked(encodeMessage(message, images));
      if (!d.ok) throw new Error(`valid ${message.kind} refused: ${d.detail}`);
      if (JSON.stringify(d.message) !== JSON.stringify(message)) throw new Error(`${message.kind} changed in transit`);
    }),
    { numRuns: 3000 },
  );
  t.pass('3,000 generated messages');
});

t.test('fuzz codec - arbitrary multipart bytes are refused with the right reason, never thrown', async (t) => {
  fc.assert(
    fc.property(foreignFrames, (frames) => {
      const d = decodeChecked(frames);
      if (frames.length < 2) {
        if (d.ok || d.reason !== DropReason.short) throw new Error('fewer than two frames must be refused as short');
      } else if (!frames[0].equals(VERSION)) {
        const looksLikeVersion = /^YS\d\d$/.test(frames[0].toString('latin1')) && frames[0].length === 4;
        if (d.ok || d.reason !== (looksLikeVersion ? DropReason.version : DropReason.foreign)) throw new Error(`first frame ${frames[0].toString('hex')}: wrong refusal`);
      }
    }),
    { numRuns: 5000 },
  );
  t.pass('5,000 random multipart messages');
});

t.test('fuzz codec - arbitrary msgpack values as the header: a known message or a malformed/frames refusal', async (t) => {
  fc.assert(
    fc.property(anyHeader, (frames) => {
      const d = decodeChecked(frames);
      if (!d.ok && d.reason !== DropReason.malformed && d.reason !== DropReason.frames) throw new Error(`unexpected reason ${d.reason}`);
    }),
    { numRuns: 5000 },
  );
  t.pass('5,000 random headers');
});

t.test('fuzz codec - a valid message with one field replaced or deleted is refused as malformed or still well-formed', async (t) => {
  let refused = 0;
  let accepted = 0;
  fc.assert(
    fc.property(mutatedMessage, ({ frames }) => {
      const d = decodeChecked(frames);
      if (d.ok) accepted++;
      else {
        refused++;
        if (d.reason !== DropReason.malformed && d.reason !== DropReason.frames) throw new Error(`unexpected reason ${d.reason}: ${d.detail}`);
      }
    }),
    { numRuns: 5000 },
  );
  t.ok(refused > 1000, `${refused} mutations refused`);
  t.ok(accepted > 0, `${accepted} mutations still well-formed (optional fields, same-typed values)`);
});

t.test('fuzz codec - numbers that msgpack can carry but the protocol must not accept', async (t) => {
  fc.assert(
    fc.property(
      validMessage.filter(({ message }) => message.kind === 'submit'),
      fc.constantFrom('weight', 'cost', 'budgetMs'),
      fc.constantFrom(Number.NaN, Infinity, -Infinity),
      ({ message, images }, field, bad) => {
        if (message.kind !== 'submit') return;
        const frames = encodeMessage({ ...message, frames: message.frames.map((f) => ({ ...f, [field]: bad })) }, images);
        const d = decodeChecked(frames);
        if (d.ok) throw new Error(`${field} = ${bad} accepted`);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('non-finite weights, costs and budgets are refused');
});

t.test('fuzz codec - another protocol version is refused as such, naming both versions', async (t) => {
  fc.assert(
    fc.property(otherVersion, ({ frames, version }) => {
      const d = decodeChecked(frames);
      if (d.ok || d.reason !== DropReason.version || d.peerVersion !== version) throw new Error(`${version} not refused as a version mismatch`);
      if (!d.detail.includes(version) || !d.detail.includes(PROTOCOL_VERSION)) throw new Error(`detail does not name both versions: ${d.detail}`);
    }),
    { numRuns: 1000 },
  );
  t.pass('1,000 messages of other versions');
});
