// Rancher's values rules on their own: which installer tags are a known Rancher line, which strings warn, retired keys.
import {
  checkRancherLine,
  explainRetiredRancherKeys,
  rancherInstallerWarnings,
  rancherStringWarnings,
} from '../../src/overlay/rancher-values.js';
import type { LocatedData } from '../../src/overlay/zod-issues.js';

const where = (data: unknown): LocatedData => ({ label: 'values.yaml', locate: () => undefined, data });
const installerTag = (tag: unknown) => ({ installer: { repository: 'rancher/istio-installer', tag } });

describe('checkRancherLine', () => {
  test.each(['1.23.2-rancher1', '1.24.1-rancher1', '1.24.1-rancher2', '1.25.0-rancher1'])(
    '%s is a known line',
    (tag) => {
      expect(checkRancherLine(installerTag(tag), where(installerTag(tag)))).toEqual([]);
    },
  );

  test.each([
    ['1.22.1-rancher1', '1.22'],
    ['1.26.2-rancher1', '1.26'],
    ['1.19.6-rancher3', '1.19'],
  ])('%s is refused, naming Istio %s and the known lines', (tag, minor) => {
    const [issue, ...rest] = checkRancherLine(installerTag(tag), where(installerTag(tag)));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ file: 'values.yaml', path: 'installer.tag' });
    expect(issue?.message).toContain(`for Istio ${minor}`);
    expect(issue?.message).toContain('107.1.0+up1.25.0 (Istio 1.25)');
  });

  test.each([undefined, '', 'v1.0.0', '1.31.0', 42])(
    'installer.tag %p says nothing about a Rancher line',
    (tag) => {
      expect(checkRancherLine(installerTag(tag), where(installerTag(tag)))).toEqual([]);
    },
  );
});

describe('rancherStringWarnings', () => {
  test("one warning per string given to a Rancher key, none for booleans, numbers or other keys' strings", () => {
    const data = {
      forceInstall: 'false',
      dns: { enabled: true },
      installer: { debug: { secondsSleep: '5' }, image: { tag: 'true' } },
      kiali: { enabled: 'true', auth: { strategy: 'token' } },
      global: { logAsJson: 'true', cattle: { systemDefaultRegistry: 'true' } },
      hub: 'false',
    };
    const warnings = rancherStringWarnings(data, where(data));
    expect(warnings.map((w) => w.path)).toEqual([
      'forceInstall',
      'installer.debug.secondsSleep',
      'kiali.enabled',
      'global.logAsJson',
    ]);
    expect(warnings[0]?.message).toContain('the boolean false');
    expect(warnings[0]?.message).toContain('"false" was on there');
    expect(warnings[1]?.message).toContain('the number 5');
  });
});

describe('rancherInstallerWarnings', () => {
  test('each non-empty Rancher installer key warns; empty or absent ones do not', () => {
    expect(
      rancherInstallerWarnings({ installer: { repository: 'x/y', tag: '' } }, where({})).map((w) => w.path),
    ).toEqual(['installer.repository']);
    expect(rancherInstallerWarnings({}, where({}))).toEqual([]);
  });
});

describe('explainRetiredRancherKeys', () => {
  test("replaces the spelling suggestion of an old Rancher line's key, leaves other issues alone", () => {
    const issues = [
      { path: 'policy', message: 'unknown key; did you mean "pilot"?' },
      { path: 'istiocoredns', message: 'unknown key; allowed: ...' },
      { path: 'pilot.replicas', message: 'unknown key; did you mean "replicaCount"?' },
      { path: 'policy', message: 'expected map' },
    ];
    expect(explainRetiredRancherKeys(issues).map((i) => i.message)).toEqual([
      "unknown key: a key of Rancher's Istio 1.7 charts (Mixer policy, removed in Istio 1.8): delete it",
      "unknown key: a key of Rancher's Istio 1.7-1.8 charts; Istio's own DNS proxying replaced istio-coredns: use dns.enabled",
      'unknown key; did you mean "replicaCount"?',
      'expected map',
    ]);
  });
});
