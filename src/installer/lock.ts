// One run at a time: a coordination.k8s.io Lease held (and renewed) for the whole run, taken over only once it expired.
import type { V1Lease } from '@kubernetes/client-node';
import { PreconditionError } from '../errors.js';
import { phase, type InstallerDeps } from './deps.js';
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
}

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
    'wait for it to finish; a lock left by a killed run expires by itself',
  );
}

/** Takes the lock or throws PreconditionError naming the holder. Renews it every third of its duration. */
export async function acquireLock(kube: Kube, namespace: string, options: LockOptions): Promise<HeldLock> {
  const existing = await kube.getLease(namespace, LOCK_NAME);
  let taken: boolean;
  if (!existing) taken = await kube.createLease(namespace, leaseBody(namespace, options));
  else {
    const expiry = leaseExpiry(existing);
    const expired = !expiry || expiry.getTime() <= options.now().getTime();
    if (!expired && existing.spec?.holderIdentity !== options.holder) throw heldBy(existing, namespace);
    // The resourceVersion makes this a compare-and-swap: of two runs taking over an expired lock, one wins.
    taken = await kube.replaceLease(namespace, leaseBody(namespace, options, existing));
  }
  if (!taken) throw heldBy(await kube.getLease(namespace, LOCK_NAME), namespace);

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
  deps: Pick<InstallerDeps, 'kube' | 'holder' | 'lockSeconds' | 'now' | 'log'>,
  namespace: string,
  work: () => Promise<T>,
): Promise<T> {
  const lock = await phase(deps, 'take the lock', () =>
    acquireLock(deps.kube, namespace, {
      holder: deps.holder,
      durationSeconds: deps.lockSeconds,
      now: deps.now,
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
