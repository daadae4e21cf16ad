// Streams one file out of a .tar.gz (ustar, pax and GNU long names) without unpacking the rest or a tar binary.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

export interface ExtractedFile {
  /** The entry's path inside the archive. */
  entry: string;
  size: number;
  sha256: string;
}

const BLOCK = 512;
// Pax and GNU long-name records are metadata; anything bigger is not a release archive.
const MAX_META_BYTES = 64 * 1024;

interface Header {
  name: string;
  size: number;
  type: string;
}

function readString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readSize(block: Buffer): number {
  const field = block.subarray(124, 136);
  // GNU base-256 encoding for sizes past 8 GiB: high bit set, big-endian binary in the remaining bytes.
  if ((field[0]! & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = readString(block, 124, 12).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = parseInt(readString(block, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return stored === sum;
}

/** Parses a 512-byte header block; throws when it is not one (wrong format or corrupt data). */
export function parseHeader(block: Buffer): Header {
  if (!checksumMatches(block)) throw new Error('not a tar archive (bad header checksum)');
  const name = readString(block, 0, 100);
  const magic = readString(block, 257, 6);
  const prefix = magic.startsWith('ustar') ? readString(block, 345, 155) : '';
  const size = readSize(block);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error('not a tar archive (bad size)');
  return { name: prefix ? `${prefix}/${name}` : name, size, type: String.fromCharCode(block[156]!) };
}

/** The `key=value` records of a pax extended header. */
export function parsePax(text: string): Map<string, string> {
  const records = new Map<string, string>();
  let rest = Buffer.from(text, 'utf8');
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    if (space === -1) break;
    const length = parseInt(rest.subarray(0, space).toString('ascii'), 10);
    if (!Number.isInteger(length) || length <= space || length > rest.length) break;
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    rest = rest.subarray(length);
  }
  return records;
}

function normalizeEntry(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/**
 * Writes the first regular file whose path satisfies `wanted` to `destination` (mode 0755) and returns its
 * size and sha256; undefined when the archive has no such file.
 */
export async function extractTarGzEntry(
  archive: string,
  wanted: (entry: string) => boolean,
  destination: string,
): Promise<ExtractedFile | undefined> {
  const source = createReadStream(archive, { highWaterMark: 1 << 20 }).pipe(
    createGunzip({ chunkSize: 1 << 18 }),
  );
  let pending: Buffer = Buffer.alloc(0);
  let zeroBlocks = 0;
  let header: Header | undefined;
  let payloadLeft = 0;
  let paddingLeft = 0;
  let meta: Buffer[] | undefined;
  let nextName: string | undefined;
  let target: { entry: string; hash: ReturnType<typeof createHash>; written: number } | undefined;
  const output = await open(destination, 'w', 0o755);
  let found: ExtractedFile | undefined;
  try {
    chunks: for await (const raw of source as AsyncIterable<Buffer>) {
      const buffer: Buffer = pending.length > 0 ? Buffer.concat([pending, raw]) : raw;
      pending = Buffer.alloc(0);
      let offset = 0;
      while (offset < buffer.length) {
        if (!header) {
          if (buffer.length - offset < BLOCK) {
            pending = Buffer.from(buffer.subarray(offset));
            break;
          }
          const block = buffer.subarray(offset, offset + BLOCK);
          offset += BLOCK;
          if (block.every((byte) => byte === 0)) {
            if (++zeroBlocks === 2) break chunks;
            continue;
          }
          zeroBlocks = 0;
          const parsed = parseHeader(block);
          const pax = parsed.type === 'x' || parsed.type === 'L';
          header = { ...parsed, name: pax ? parsed.name : normalizeEntry(nextName ?? parsed.name) };
          if (!pax) nextName = undefined;
          payloadLeft = header.size;
          paddingLeft = (BLOCK - (header.size % BLOCK)) % BLOCK;
          meta = pax ? [] : undefined;
          if (pax && header.size > MAX_META_BYTES)
            throw new Error('not a release archive (oversized tar metadata)');
          const regular = header.type === '0' || header.type === '\0' || header.type === '7';
          target =
            regular && wanted(header.name)
              ? { entry: header.name, hash: createHash('sha256'), written: 0 }
              : undefined;
        } else {
          const take = Math.min(payloadLeft, buffer.length - offset);
          const payload = buffer.subarray(offset, offset + take);
          if (target) {
            target.hash.update(payload);
            await output.write(payload);
            target.written += take;
          } else if (meta) meta.push(Buffer.from(payload));
          payloadLeft -= take;
          offset += take;
          if (payloadLeft === 0) {
            const skip = Math.min(paddingLeft, buffer.length - offset);
            paddingLeft -= skip;
            offset += skip;
            if (paddingLeft === 0) {
              if (target) {
                found = { entry: target.entry, size: target.written, sha256: target.hash.digest('hex') };
                break chunks;
              }
              if (meta && header.type === 'x')
                nextName = parsePax(Buffer.concat(meta).toString('utf8')).get('path');
              if (meta && header.type === 'L')
                nextName = Buffer.concat(meta).toString('utf8').replace(/\0+$/, '');
              header = undefined;
              meta = undefined;
            }
          }
        }
      }
    }
    if (!found && target) throw new Error('not a release archive (truncated)');
    return found;
  } finally {
    await output.close();
    source.destroy();
  }
}
