// One run at a time: a coordination.k8s.io Lease held (and renewed) for the whole run. A lease its holder stopped
// renewing is waited out; one whose holder is provably gone is taken over at once.
import type { V1Lease } from '@kubernetes/client-node';
import { PreconditionError } from '../../errors.js';
import { phase, type InstallerDeps } from '../deps.js';
import { holderGone, type HolderProbe } from './holder.js';
import type { Kube } from './kube.js';

export const LOCK_NAME = 'istio-installer-lock';

/** A Lease's times are MicroTime: the API server rejects JavaScript's millisecond ISO strings. */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/Z$/, '000Z');
  }
}
const micro = (date: Date | string | undefined) =>
  date ? new MicroTime(new Date(date).getTime()) : undefined;

export interface LockOptions {
  holder: string;
  durationSeconds: number;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Tells whether another holder is provably gone. */
  probe: HolderProbe;
  log: (message: string) => void;
}

/** How often a wait for the lock says so in the log. */
const WAIT_LOG_INTERVAL_MS = 5_000;

export interface HeldLock {
  /** Stops renewing and deletes the Lease if it is still ours. */
  release(): Promise<void>;
}

/** When a Lease stops counting: renewed (or acquired) time plus its duration. */
export function leaseExpiry(lease: V1Lease): Date | undefined {
  const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const duration = lease.spec?.leaseDurationSeconds;
  if (!renewed || duration === undefined) return undefined;
  return new Date(new Date(renewed).getTime() + duration * 1000);
}

function leaseBody(namespace: string, options: LockOptions, base?: V1Lease): V1Lease {
  const now = micro(options.now());
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: LOCK_NAME,
      namespace,
      resourceVersion: base?.metadata?.resourceVersion,
      labels: { 'app.kubernetes.io/managed-by': 'istio-installer' },
    },
    spec: {
      holderIdentity: options.holder,
      leaseDurationSeconds: options.durationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (base?.spec?.leaseTransitions ?? 0) + (base ? 1 : 0),
    },
  };
}

function heldBy(lease: V1Lease | undefined, namespace: string): PreconditionError {
  const holder = lease?.spec?.holderIdentity ?? 'unknown';
  const expiry = lease ? leaseExpiry(lease) : undefined;
  return new PreconditionError(
    `another istio-installer run holds the lock (Lease ${namespace}/${LOCK_NAME}, holder ${holder}${expiry ? `, until ${expiry.toISOString()} unless renewed` : ''})`,
    'it was renewed while this run waited, so that run is alive: wait for it to finish',
  );
}

/**
 * Takes the lock. A lease held by another run is taken over at once when its holder is provably gone, waited out
 * (up to its expiry, logging progress) while nobody renews it, and refused with PreconditionError naming the
 * holder as soon as it is renewed, since that holder is alive. Once held, it is renewed every third of its duration.
 */
export async function acquireLock(kube: Kube, namespace: string, options: LockOptions): Promise<HeldLock> {
  let seen: { holder: string | undefined; renewed: string } | undefined;
  let lastLog = -Infinity;
  for (;;) {
    const existing = await kube.getLease(namespace, LOCK_NAME);
    if (!existing) {
      if (await kube.createLease(namespace, leaseBody(namespace, options))) break;
      continue; // another run created it first: look at theirs
    }
    const holder = existing.spec?.holderIdentity;
    const expiry = leaseExpiry(existing);
    const now = options.now().getTime();
    const expired = !expiry || expiry.getTime() <= now;
    const gone = expired || holder === options.holder ? undefined : await holderGone(holder, options.probe);
    if (expired || holder === options.holder || gone) {
      if (gone) options.log(`taking over the lock from ${holder}: ${gone}`);
      // The resourceVersion makes this a compare-and-swap: of two runs taking over, one wins.
      if (await kube.replaceLease(namespace, leaseBody(namespace, options, existing))) break;
      continue;
    }
    const renewedAt = existing.spec?.renewTime ?? existing.spec?.acquireTime;
    const renewed = renewedAt ? new Date(renewedAt).toISOString() : 'never';
    if (seen && (seen.holder !== holder || seen.renewed !== renewed)) throw heldBy(existing, namespace);
    seen ??= { holder, renewed };
    const left = expiry.getTime() - now;
    if (now - lastLog >= WAIT_LOG_INTERVAL_MS) {
      options.log(
        `waiting for the lock (Lease ${namespace}/${LOCK_NAME}): held by ${holder ?? 'unknown'}, last renewed ${renewed}; it expires in ${Math.ceil(left / 1000)}s unless renewed`,
      );
      lastLog = now;
    }
    await options.sleep(Math.min(1_000, left));
  }

  let released = false;
  const renew = async () => {
    const current = await kube.getLease(namespace, LOCK_NAME);
    if (released || !current || current.spec?.holderIdentity !== options.holder) return;
    await kube.replaceLease(namespace, {
      ...current,
      spec: {
        ...current.spec,
        acquireTime: micro(current.spec?.acquireTime),
        renewTime: micro(options.now()),
      },
    });
  };
  const timer = setInterval(() => void renew().catch(() => undefined), (options.durationSeconds * 1000) / 3);
  timer.unref();
  return {
    async release() {
      released = true;
      clearInterval(timer);
      const current = await kube.getLease(namespace, LOCK_NAME);
      if (current?.spec?.holderIdentity === options.holder) await kube.deleteLease(namespace, LOCK_NAME);
    },
  };
}

/** Runs `work` holding the lock, released afterwards whatever happens (a failed release only logs). */
export async function withLock<T>(
  deps: Pick<
    InstallerDeps,
    'kube' | 'holder' | 'lockSeconds' | 'now' | 'sleep' | 'log' | 'hostname' | 'isProcessAlive'
  >,
  namespace: string,
  work: () => Promise<T>,
): Promise<T> {
  const lock = await phase(deps, 'take the lock', () =>
    acquireLock(deps.kube, namespace, {
      holder: deps.holder,
      durationSeconds: deps.lockSeconds,
      now: deps.now,
      sleep: deps.sleep,
      probe: { kube: deps.kube, hostname: deps.hostname, isProcessAlive: deps.isProcessAlive },
      log: (message) => deps.log.info(message),
    }),
  );
  try {
    return await work();
  } finally {
    await lock
      .release()
      .catch((error: unknown) => deps.log.warn(`could not release the lock: ${String(error)}`));
  }
}
