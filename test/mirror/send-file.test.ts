// sendFileRange: exact bytes for any range and chunk size, and the two ways a send ends early.
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import {
  BUFFER_BUDGET,
  ChunkPool,
  chunkSizeFor,
  ClientGone,
  sendFileRange,
} from '../../src/mirror/send-file.js';
import { tempDir } from './helpers.js';

let work: ReturnType<typeof tempDir>;
let fd: number;
const content = randomBytes(300_000);
beforeAll(() => {
  work = tempDir();
  writeFileSync(join(work.path, 'f'), content);
  fd = openSync(join(work.path, 'f'), 'r');
});
afterAll(() => {
  closeSync(fd);
  work.remove();
});

function collector(): { out: PassThrough; bytes: () => Buffer } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
  return { out, bytes: () => Buffer.concat(chunks) };
}

test('sends exactly bytes start..end whatever the chunk size', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat(content.length - 1),
      fc.nat(content.length - 1),
      fc.integer({ min: 1000, max: 70_000 }),
      async (a, b, chunk) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const { out, bytes } = collector();
        const sent = await sendFileRange(fd, out, start, end, new ChunkPool(() => chunk));
        expect(sent).toBe(end - start + 1);
        expect(bytes().equals(content.subarray(start, end + 1))).toBe(true);
      },
    ),
    { numRuns: 40 },
  );
});

test('tiny chunks and one-byte ranges alternate the two buffers correctly', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat(content.length - 200),
      fc.nat(199),
      fc.integer({ min: 1, max: 16 }),
      async (start, length, chunk) => {
        const { out, bytes } = collector();
        await sendFileRange(fd, out, start, start + length, new ChunkPool(() => chunk));
        expect(bytes().equals(content.subarray(start, start + length + 1))).toBe(true);
      },
    ),
    { numRuns: 60 },
  );
});

test('a file shorter than the range is an error, not a short body passed off as complete', async () => {
  const { out } = collector();
  await expect(
    sendFileRange(fd, out, content.length - 10, content.length + 99, new ChunkPool(() => 64)),
  ).rejects.toThrow(`file ended at byte ${content.length}, 100 bytes early`);
});

test('a response that closes midway rejects with ClientGone and the bytes written so far', async () => {
  let written = 0;
  const out = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (written >= 3 * 1000) out.destroy();
      else setImmediate(callback);
    },
  });
  const error = await sendFileRange(fd, out, 0, content.length - 1, new ChunkPool(() => 1000)).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientGone);
  expect((error as ClientGone).sent).toBe(2000);
});

test('chunk sizes shrink as downloads multiply, keeping their buffers within the budget', () => {
  expect([1, 8, 16, 64, 512, 5000].map(chunkSizeFor)).toEqual([
    1 << 20,
    512 << 10,
    256 << 10,
    64 << 10,
    16 << 10,
    16 << 10,
  ]);
  // Up to the count where the 16 KiB minimum takes over.
  const crowd = BUFFER_BUDGET / (2 * 16 * 1024);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: crowd }), (active) => {
      expect(2 * active * chunkSizeFor(active)).toBeLessThanOrEqual(BUFFER_BUDGET);
    }),
  );
});

test('the pool reuses buffers of the current size only, fits short ranges, and caps what it keeps idle', () => {
  let size = 64 * 1024;
  const pool = new ChunkPool(() => size, 256 * 1024);
  const a = pool.take(10_000_000);
  expect(a.length).toBe(64 * 1024);
  pool.give(a);
  expect(pool.take(10_000_000)).toBe(a);
  expect(pool.take(100).length).toBe(4096);
  expect(pool.take(5000).length).toBe(8192);
  const many = [1, 2, 3, 4, 5].map(() => pool.take(1 << 30));
  many.forEach((buffer) => pool.give(buffer));
  expect(pool.idleByteCount).toBe(256 * 1024);
  size = 16 * 1024;
  // A stale size is not kept, and asking for the new size frees the idle ones.
  pool.give(Buffer.allocUnsafeSlow(64 * 1024));
  expect(pool.take(1 << 30).length).toBe(16 * 1024);
  expect(pool.idleByteCount).toBe(0);
});
