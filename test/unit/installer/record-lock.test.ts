// The record (encoding, history, last good) and the Lease lock, against the in-memory FakeKube.
import { PreconditionError } from '../../../src/errors.js';
import { holderIdentity, parseHolder } from '../../../src/installer/cluster/holder.js';
import { acquireLock, LOCK_NAME, type LockOptions } from '../../../src/installer/cluster/lock.js';
import {
  decodeRecord,
  encodeRecord,
  HISTORY_LENGTH,
  nextRecord,
  specHash,
  type RecordEntry,
} from '../../../src/installer/model/record.js';
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
  /** A clock that only moves when the code under test sleeps; `onSleep` lets a test act as the other holder. */
  function setup(start = '2026-11-21T00:00:00Z') {
    const kube = new FakeKube();
    let time = Date.parse(start);
    const logs: string[] = [];
    const alive = new Set<number>();
    const hooks: { onSleep?: (now: Date) => void } = {};
    const options = (holder: string): LockOptions => ({
      holder,
      durationSeconds: 60,
      now: () => new Date(time),
      sleep: async (ms) => {
        time += ms;
        hooks.onSleep?.(new Date(time));
      },
      probe: { kube, hostname: 'this-host', isProcessAlive: (pid) => alive.has(pid) },
      log: (message) => logs.push(message),
    });
    const lease = () => kube.leases.get(`istio-system/${LOCK_NAME}`);
    return {
      kube,
      logs,
      alive,
      hooks,
      options,
      lease,
      advance: (ms: number) => (time += ms),
      now: () => new Date(time),
    };
  }

  test('a holder that renews while we wait is alive: refused at once, naming it', async () => {
    const t = setup();
    await acquireLock(t.kube, 'istio-system', t.options('pod:istio-system/job-a'));
    t.kube.pods.push({
      metadata: { name: 'job-a', namespace: 'istio-system' },
      status: { phase: 'Running' },
    });
    t.advance(10_000);
    t.hooks.onSleep = (now) => {
      // job-a renews 20 s after it took the lock, as every live holder does every third of the duration
      const current = t.lease();
      if (
        current?.spec &&
        now.getTime() >= Date.parse('2026-11-21T00:00:20Z') &&
        !t.logs.includes('renewed')
      ) {
        current.spec.renewTime = now;
        current.metadata = { ...current.metadata, resourceVersion: 'renewed' };
        t.logs.push('renewed');
      }
    };
    const second = acquireLock(t.kube, 'istio-system', t.options('pod:istio-system/job-b'));
    await expect(second).rejects.toThrow(PreconditionError);
    await expect(second).rejects.toThrow(/holder pod:istio-system\/job-a/);
    expect(t.now().getTime()).toBeLessThan(Date.parse('2026-11-21T00:00:22Z'));
    expect(t.lease()?.spec?.holderIdentity).toBe('pod:istio-system/job-a');
  });

  test('a lease nobody renews is waited out, with progress in the log, then taken over', async () => {
    const t = setup();
    await acquireLock(t.kube, 'istio-system', t.options('process:other-host/42'));
    t.advance(15_000);
    const lock = await acquireLock(t.kube, 'istio-system', t.options('process:this-host/7'));
    expect(t.lease()?.spec?.holderIdentity).toBe('process:this-host/7');
    expect(t.lease()?.spec?.leaseTransitions).toBe(1);
    expect(t.now().toISOString()).toBe('2026-11-21T00:01:00.000Z');
    const waits = t.logs.filter((l) => l.startsWith('waiting for the lock'));
    expect(waits[0]).toBe(
      'waiting for the lock (Lease istio-system/istio-installer-lock): held by process:other-host/42, last renewed 2026-11-21T00:00:00.000Z; it expires in 45s unless renewed',
    );
    expect(waits).toHaveLength(9);
    await lock.release();
    expect(t.kube.leases.size).toBe(0);
  });

  test.each([
    ['its pod no longer exists', undefined, 'its pod istio-system/job-a no longer exists'],
    ['its pod has ended', 'Failed', 'its pod istio-system/job-a has ended (Failed)'],
  ])('a holder whose pod is gone is taken over at once: %s', async (_name, phase, reason) => {
    const t = setup();
    await acquireLock(t.kube, 'istio-system', t.options('pod:istio-system/job-a'));
    if (phase)
      t.kube.pods.push({ metadata: { name: 'job-a', namespace: 'istio-system' }, status: { phase } });
    await acquireLock(t.kube, 'istio-system', t.options('pod:istio-system/job-b'));
    expect(t.lease()?.spec?.holderIdentity).toBe('pod:istio-system/job-b');
    expect(t.now().toISOString()).toBe('2026-11-21T00:00:00.000Z');
    expect(t.logs).toEqual([`taking over the lock from pod:istio-system/job-a: ${reason}`]);
  });

  test('a holder process on this host: dead is taken over at once, alive is waited for', async () => {
    const t = setup();
    await acquireLock(t.kube, 'istio-system', t.options('process:this-host/41'));
    await acquireLock(t.kube, 'istio-system', t.options('process:this-host/42'));
    expect(t.logs).toEqual([
      'taking over the lock from process:this-host/41: its process 41 on this host is dead',
    ]);
    t.alive.add(42);
    await acquireLock(t.kube, 'istio-system', t.options('process:this-host/43'));
    expect(t.now().toISOString()).toBe('2026-11-21T00:01:00.000Z');
    expect(t.lease()?.spec?.holderIdentity).toBe('process:this-host/43');
  });

  test('release leaves a lease that someone else took over', async () => {
    const t = setup();
    const lock = await acquireLock(t.kube, 'istio-system', t.options('process:other-host/1'));
    t.advance(5 * 60_000);
    await acquireLock(t.kube, 'istio-system', t.options('process:other-host/2'));
    await lock.release();
    expect(t.lease()?.spec?.holderIdentity).toBe('process:other-host/2');
  });
});

describe('holder identity', () => {
  test('a pod when the chart says so, else host and pid; both read back', () => {
    expect(holderIdentity({ POD_NAME: 'job-x', POD_NAMESPACE: 'ns' }, 'h', 1)).toBe('pod:ns/job-x');
    expect(holderIdentity({}, 'host-1', 123)).toBe('process:host-1/123');
    expect(parseHolder('pod:ns/job-x')).toEqual({ kind: 'pod', namespace: 'ns', name: 'job-x' });
    expect(parseHolder('process:host-1/123')).toEqual({ kind: 'process', host: 'host-1', pid: 123 });
    expect(parseHolder('job-elsewhere')).toBeUndefined();
  });
});
