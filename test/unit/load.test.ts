// Reading inputs: the size limit holds while reading, so an endless or growing input is refused after one chunk too many.
import { loadSources, readLimited } from '../../src/overlay/load.js';
import { MAX_INPUT_BYTES } from '../../src/overlay/yaml-source.js';

/** An input that never ends, like /dev/zero; counts what was taken from it. */
function endless(chunkBytes: number): AsyncIterable<Uint8Array> & { taken: number } {
  const source = {
    taken: 0,
    async *[Symbol.asyncIterator]() {
      const chunk = new Uint8Array(chunkBytes);
      for (;;) {
        source.taken += chunkBytes;
        yield await Promise.resolve(chunk);
      }
    },
  };
  return source;
}

test('readLimited stops at the first chunk past the limit', async () => {
  const input = endless(64 * 1024);
  expect(await readLimited(input, 1024 * 1024)).toEqual({ tooLarge: true });
  expect(input.taken).toBe(1024 * 1024 + 64 * 1024);
});

test('readLimited returns everything up to the limit', async () => {
  const chunks = [Buffer.from('a: 1\n'), Buffer.from('b: 2\n')];
  expect(await readLimited(chunks.values() as unknown as AsyncIterable<Uint8Array>, 10)).toEqual({
    bytes: Buffer.from('a: 1\nb: 2\n'),
  });
});

test('an endless stdin is refused as too large, having read at most one chunk past the limit', async () => {
  const stdin = endless(64 * 1024);
  const loaded = await loadSources(['-'], { stdin: () => stdin, cwd: '/' }, 'overlay');
  expect(loaded.issues).toEqual([
    { file: '<stdin>', path: '', message: `input is over the limit of ${MAX_INPUT_BYTES} bytes` },
  ]);
  expect(stdin.taken).toBeLessThanOrEqual(MAX_INPUT_BYTES + 64 * 1024);
});

test('a device such as /dev/zero given as a file is not read at all', async () => {
  const loaded = await loadSources(['/dev/zero'], { stdin: () => endless(1), cwd: '/' }, 'values');
  expect(loaded.issues).toEqual([{ file: '/dev/zero', path: '', message: 'not a regular file' }]);
});
