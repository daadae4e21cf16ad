// Istio's Kubernetes support matrix and the choices made from it: the automatic target and the stepped path.
import { parseIstioVersion, type IstioVersion } from '../../../src/installer/model/istio-version.js';
import {
  ISTIO_KUBE_SUPPORT,
  autoTarget,
  heldBackLine,
  parseKubeVersion,
  supportOn,
  unsupportedLine,
  type KubeVersion,
} from '../../../src/installer/decide/kube-support.js';
import { upgradePath } from '../../../src/installer/decide/path.js';

const v = (text: string): IstioVersion => {
  const parsed = parseIstioVersion(text);
  if (!parsed) throw new Error(text);
  return parsed;
};
const kube = (text: string): KubeVersion => {
  const parsed = parseKubeVersion(text);
  if (!parsed) throw new Error(text);
  return parsed;
};

/** What the installer image bundles and the rig builds: Rancher 2.12's start versions' hops and the newest two. */
const AT_HAND = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];

describe('the support matrix', () => {
  test("each minor's range as istio.io publishes it", () => {
    const rows = Object.entries(ISTIO_KUBE_SUPPORT).map(
      ([istio, r]) => `${istio}: ${r.min.major}.${r.min.minor}-${r.max.major}.${r.max.minor}`,
    );
    expect(rows).toEqual([
      '1.20: 1.25-1.29',
      '1.21: 1.26-1.29',
      '1.22: 1.27-1.30',
      '1.23: 1.27-1.30',
      '1.24: 1.28-1.31',
      '1.25: 1.29-1.32',
      '1.26: 1.29-1.33',
      '1.27: 1.29-1.33',
      '1.28: 1.30-1.34',
      '1.29: 1.31-1.35',
      '1.30: 1.32-1.36',
      '1.31: 1.32-1.37',
    ]);
  });

  test('Kubernetes versions as API servers and distributions report them', () => {
    expect(parseKubeVersion('v1.32.3')).toEqual({ major: 1, minor: 32 });
    expect(parseKubeVersion('v1.31.9+rke2r1')).toEqual({ major: 1, minor: 31 });
    expect(parseKubeVersion('1.33')).toEqual({ major: 1, minor: 33 });
    expect(parseKubeVersion('latest')).toBeUndefined();
  });

  test('supported, unsupported at both ends, and unknown outside the matrix', () => {
    expect(supportOn(v('1.25.0'), kube('v1.32.0'))).toBe('supported');
    expect(supportOn(v('1.25.0'), kube('v1.33.0'))).toBe('unsupported');
    expect(supportOn(v('1.30.4'), kube('v1.31.4'))).toBe('unsupported');
    expect(supportOn(v('1.35.0'), kube('v1.36.0'))).toBe('unknown');
    expect(unsupportedLine(v('1.30.4'), kube('v1.31.4'))).toBe(
      'Istio 1.30.4 supports Kubernetes 1.32-1.36; this cluster runs Kubernetes 1.31',
    );
  });
});

describe('the automatic target', () => {
  test("Rancher 2.12's Kubernetes 1.31 gets 1.29, and says what it held back and why", () => {
    const auto = autoTarget(AT_HAND, kube('v1.31.7'));
    expect(auto.target && `${auto.target.minor}.${auto.target.patch}`).toBe('29.6');
    expect(heldBackLine(auto, kube('v1.31.7'))).toBe(
      'Istio 1.31.0 needs Kubernetes >= 1.32; this cluster runs 1.31: installed 1.29.6; upgrade Kubernetes, then upgrade again',
    );
  });

  test('Kubernetes 1.32 and 1.36 get the newest, with nothing held back', () => {
    for (const k of ['v1.32.2', 'v1.36.3']) {
      const auto = autoTarget(AT_HAND, kube(k));
      expect(auto.target?.minor).toBe(31);
      expect(heldBackLine(auto, kube(k))).toBeUndefined();
    }
  });

  test('a Kubernetes newer than every range: nothing supported is found, nothing is guessed', () => {
    const auto = autoTarget(AT_HAND, kube('v1.40.0'));
    expect(auto.target).toBeUndefined();
    expect(auto.passedOver).toHaveLength(0);
  });

  test('an istioctl newer than the matrix is taken only when no known version fits', () => {
    expect(autoTarget(['1.31.0', '1.35.0'], kube('v1.33.0')).target?.minor).toBe(31);
    expect(autoTarget(['1.35.0'], kube('v1.33.0')).target?.minor).toBe(35);
  });
});

describe('the stepped path through what is at hand', () => {
  const path = (from: string, to: string, available = AT_HAND, k?: string) =>
    upgradePath(v(from), v(to), available, k ? kube(k) : undefined)?.map(
      (h) => `${h.version}${h.istioctl === 'missing' ? '?' : ''}`,
    );

  test('Rancher 2.12 lines on Kubernetes 1.32: only available versions, fewest hops', () => {
    expect(path('1.25.0', '1.31.0', AT_HAND, 'v1.32.1')).toEqual(['1.27.9', '1.29.6', '1.31.0']);
    expect(path('1.24.1', '1.31.0', AT_HAND, 'v1.32.1')).toEqual(['1.25.0', '1.27.9', '1.29.6', '1.31.0']);
    expect(path('1.25.0', '1.30.4', AT_HAND, 'v1.32.1')).toEqual(['1.27.9', '1.29.6', '1.30.4']);
  });

  test('a start with an odd distance is not asked for minors that are not there', () => {
    // Counting back from 1.31 in twos would ask for 1.26 after 1.24; 1.25 is at hand instead.
    expect(path('1.24.1', '1.31.0', ['1.25.0', '1.27.9', '1.29.6', '1.31.0'])).toEqual([
      '1.25.0',
      '1.27.9',
      '1.29.6',
      '1.31.0',
    ]);
    expect(path('1.23.2', '1.29.6', ['1.24.1', '1.26.3', '1.27.9', '1.29.6'])).toEqual([
      '1.24.1',
      '1.26.3',
      '1.27.9',
      '1.29.6',
    ]);
  });

  test('a missing minor is named only where no available path exists, and as few as possible', () => {
    expect(path('1.23.2', '1.31.0', ['1.30.4', '1.31.0'])).toEqual(['1.25?', '1.27?', '1.29?', '1.31.0']);
    expect(path('1.25.0', '1.31.0', ['1.29.6', '1.31.0'])).toEqual(['1.27?', '1.29.6', '1.31.0']);
    expect(path('1.25.0', '1.31.0', ['1.27.9', '1.29.6'])).toEqual(['1.27.9', '1.29.6', '1.31.0?']);
  });

  test('every hop is supported on the cluster: a hop Kubernetes no longer runs is routed around', () => {
    // On 1.33, 1.25 is out of support; from 1.24 the path goes through 1.26 instead.
    expect(path('1.24.1', '1.28.4', ['1.25.0', '1.26.3', '1.28.4'], 'v1.33.0')).toEqual(['1.26.3', '1.28.4']);
    // No supported route at all: 1.24 -> 1.26 is the only first hop and 1.26 ends at Kubernetes 1.33.
    expect(path('1.24.1', '1.28.4', ['1.26.3', '1.28.4'], 'v1.34.0')).toBeUndefined();
    // A target the cluster does not support has no path.
    expect(path('1.29.6', '1.31.0', AT_HAND, 'v1.31.0')).toBeUndefined();
  });

  test('nothing to go up is an empty path', () => {
    expect(path('1.31.0', '1.31.0')).toEqual([]);
    expect(path('1.31.0', '1.30.4')).toEqual([]);
    expect(path('1.30.4', '1.31.0')).toEqual(['1.31.0']);
  });

  test('every hop is one or two minors and the path ends on the target, from every start', () => {
    for (let from = 20; from < 31; from++) {
      const hops = upgradePath(v(`1.${from}.0`), v('1.31.0'), AT_HAND) ?? [];
      const minors = [from, ...hops.map((h) => Number(h.version.split('.')[1]))];
      for (let i = 1; i < minors.length; i++) {
        const step = (minors[i] ?? 0) - (minors[i - 1] ?? 0);
        expect(step >= 1 && step <= 2).toBe(true);
      }
      expect(hops.at(-1)?.version).toBe('1.31.0');
      expect(hops.length).toBe(Math.ceil((31 - from) / 2));
    }
  });
});
