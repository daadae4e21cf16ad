// The golden files' modes: UPDATE_GOLDEN refused under CI, and an update run compared with what was there before.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { golden, goldenMode } from './golden.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'golden-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('UPDATE_GOLDEN=1 rewrites outside CI and is refused under CI', () => {
  expect(goldenMode({})).toBe('check');
  expect(goldenMode({ CI: 'true' })).toBe('check');
  expect(goldenMode({ UPDATE_GOLDEN: '1' })).toBe('update');
  expect(goldenMode({ UPDATE_GOLDEN: '1', CI: 'false' })).toBe('update');
  expect(() => goldenMode({ UPDATE_GOLDEN: '1', CI: 'true' })).toThrow(
    'UPDATE_GOLDEN=1 is refused under CI (CI=true)',
  );
  expect(() => goldenMode({ UPDATE_GOLDEN: '1', CI: '1' })).toThrow(/refused under CI/);
});

test('check mode returns the file and writes nothing', () => {
  const file = path.join(dir, 'expected.yaml');
  writeFileSync(file, 'old\n');
  expect(golden(file, 'new\n', 'check')).toBe('old\n');
  expect(readFileSync(file, 'utf8')).toBe('old\n');
  expect(golden(path.join(dir, 'none'), 'x', 'check')).toBe('');
  expect(existsSync(path.join(dir, 'none'))).toBe(false);
});

test('update mode rewrites the file and returns what it held before, so a changed golden fails the run once', () => {
  const file = path.join(dir, 'expected.yaml');
  writeFileSync(file, 'old\n');
  expect(golden(file, 'new\n', 'update')).toBe('old\n');
  expect(readFileSync(file, 'utf8')).toBe('new\n');
  expect(golden(file, 'new\n', 'update')).toBe('new\n');
});

test('update mode removes an optional golden whose output became empty, and creates one that appeared', () => {
  const stderr = path.join(dir, 'expected.stderr');
  writeFileSync(stderr, 'warn: old\n');
  expect(golden(stderr, '', 'update', true)).toBe('warn: old\n');
  expect(existsSync(stderr)).toBe(false);
  expect(golden(stderr, 'warn: new\n', 'update', true)).toBe('');
  expect(readFileSync(stderr, 'utf8')).toBe('warn: new\n');
});
