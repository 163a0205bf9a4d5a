import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { curveKeyPair } from '../../protocol/index.js';
import type { CommandSpec } from '../context.js';
import { parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';

const USAGE = 'keys curve [--out PREFIX]';

/**
 * `yoloscale keys curve`: a fresh ZeroMQ CURVE keypair (SPEC §13). Printed,
 * or with `--out PREFIX` written to `PREFIX.key` (secret, mode 0600) and
 * `PREFIX.pub`, files the `--curve-*-key` settings accept.
 */
export const keysCommand: CommandSpec = {
  name: 'keys',
  summary: 'Generate ZeroMQ CURVE keypairs for encrypted, authenticated traffic between hosts',
  usage: [USAGE],
  examples: [
    'yoloscale keys curve --out scheduler     # scheduler.key (secret) + scheduler.pub',
    'yoloscale scheduler --curve-secret-key scheduler.key',
    'yoloscale worker --scheduler tcp://head:5555 --curve-server-key scheduler.pub',
    'yoloscale gateway --scheduler tcp://head:5556 --curve-server-key scheduler.pub',
  ],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { out: { type: 'string' } }, USAGE);
    if (positionals[0] !== 'curve' || positionals.length > 1) throw new UsageError(positionals.length ? `unknown key type "${positionals.join(' ')}"` : 'which keys? (curve)', USAGE);
    const pair = curveKeyPair();
    const out = values.out as string | undefined;
    if (out !== undefined) {
      if (out === '') throw new UsageError('--out needs a file prefix', USAGE);
      const secretFile = resolve(`${out}.key`);
      const publicFile = resolve(`${out}.pub`);
      // `wx`: never overwrite a key someone may already have handed out.
      try {
        writeFileSync(secretFile, `# yoloscale CURVE secret key: --curve-secret-key ${secretFile}\n${pair.secretKey}\n`, { mode: 0o600, flag: 'wx' });
        writeFileSync(publicFile, `# yoloscale CURVE public key: give it to peers as --curve-server-key (or --curve-public-key with its .key)\n${pair.publicKey}\n`, { mode: 0o644, flag: 'wx' });
      } catch (err) {
        throw new UsageError(`cannot write the key files: ${(err as Error).message}`);
      }
      if (ctx.global.json) printJson(ctx.io, { publicKey: pair.publicKey, secretFile, publicFile });
      else ctx.io.stdout.write(`public key ${pair.publicKey}\nsecret key written to ${secretFile} (mode 0600), public key to ${publicFile}\n`);
      return 0;
    }
    if (ctx.global.json) printJson(ctx.io, pair);
    else ctx.io.stdout.write(`public key ${pair.publicKey}\nsecret key ${pair.secretKey}\n`);
    return 0;
  },
};
