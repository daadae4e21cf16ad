// The record (encoding, history, last good) and the Lease lock, against the in-memory FakeKube.
import { PreconditionError } from '../../../src/errors.js';
import { acquireLock, LOCK_NAME } from '../../../src/installer/lock.js';
import {
  decodeRecord,
  encodeRecord,
  HISTORY_LENGTH,
  nextRecord,
  specHash,
  type RecordEntry,
} from '../../../src/installer/record.js';
import { FakeKube } from '../../helpers/fake-kube.js';

const entry = (n: number, outcome: RecordEntry['outcome'] = 'succeeded'): RecordEntry => ({
  action: 'install',
  outcome,
  specSha256: `hash-${n}`,
  istioVersion: '1.31.0',
  revision: 'default',
  chartVersion: '0.1.0',
  installerVersion: '0.1.0',
  time: `2026-11-21T00:00:${String(n).padStart(2, '0')}Z`,
});

describe('record', () => {
  test('round-trips through the ConfigMap encoding, specs gzipped', () => {
    const spec = 'spec: ' + 'x'.repeat(100_000);
    const record = nextRecord(undefined, entry(1), spec);
    const encoded = encodeRecord(record);
    expect(encoded.binaryData['spec.yaml.gz']!.length).toBeLessThan(2_000);
    expect(decodeRecord(encoded.data, encoded.binaryData)).toEqual(record);
  });

  test('keeps the last good spec through a failure, and at most HISTORY_LENGTH entries', () => {
    let record = nextRecord(undefined, entry(0), 'good');
    for (let i = 1; i <= 15; i++) record = nextRecord(record, entry(i, 'failed'), `bad-${i}`);
    expect(record.history).toHaveLength(HISTORY_LENGTH);
    expect(record.history[0]?.specSha256).toBe('hash-15');
    expect(record.lastGood?.specSha256).toBe('hash-0');
    expect(record.lastGoodSpec).toBe('good');
    expect(record.spec).toBe('bad-15');
  });

  test('a damaged record reads as none', () => {
    expect(decodeRecord({ 'record.json': '{not json' }, {})).toBeUndefined();
    expect(decodeRecord({ 'record.json': '{"current": 1}' }, {})).toBeUndefined();
    expect(decodeRecord(undefined, undefined)).toBeUndefined();
  });

  test('the spec hash ignores key order', () => {
    expect(specHash({ a: 1, b: { c: 2, d: 3 } })).toBe(specHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(specHash({ a: 1 })).not.toBe(specHash({ a: 2 }));
  });
});

describe('lock', () => {
  const at = (iso: string) => () => new Date(iso);

  test('a second holder is refused, naming the first', async () => {
    const kube = new FakeKube();
    await acquireLock(kube, 'istio-system', {
      holder: 'job-a',
      durationSeconds: 60,
      now: at('2026-11-21T00:00:00Z'),
    });
    const second = acquireLock(kube, 'istio-system', {
      holder: 'job-b',
      durationSeconds: 60,
      now: at('2026-11-21T00:00:30Z'),
    });
    await expect(second).rejects.toThrow(PreconditionError);
    await expect(second).rejects.toThrow(/holder job-a/);
  });

  test('an expired lease is taken over', async () => {
    const kube = new FakeKube();
    await acquireLock(kube, 'istio-system', {
      holder: 'killed-job',
      durationSeconds: 60,
      now: at('2026-11-21T00:00:00Z'),
    });
    const lock = await acquireLock(kube, 'istio-system', {
      holder: 'job-b',
      durationSeconds: 60,
      now: at('2026-11-21T00:01:01Z'),
    });
    expect(kube.leases.get(`istio-system/${LOCK_NAME}`)?.spec?.holderIdentity).toBe('job-b');
    expect(kube.leases.get(`istio-system/${LOCK_NAME}`)?.spec?.leaseTransitions).toBe(1);
    await lock.release();
    expect(kube.leases.size).toBe(0);
  });

  test('release leaves a lease that someone else took over', async () => {
    const kube = new FakeKube();
    const lock = await acquireLock(kube, 'istio-system', {
      holder: 'slow-job',
      durationSeconds: 60,
      now: at('2026-11-21T00:00:00Z'),
    });
    await acquireLock(kube, 'istio-system', {
      holder: 'job-b',
      durationSeconds: 60,
      now: at('2026-11-21T00:05:00Z'),
    });
    await lock.release();
    expect(kube.leases.get(`istio-system/${LOCK_NAME}`)?.spec?.holderIdentity).toBe('job-b');
  });
});
