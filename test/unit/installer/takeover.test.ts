// The takeover planner: which installs are adopted and which refused, Rancher's leftovers, the stepped canary path
// (1.23 -> 1.25 -> 1.27 -> 1.29 -> 1.31), where a re-run resumes, the per-hop spec and the proxy-skew gate.
import { parseIstioVersion, type IstioVersion } from '../../../src/installer/model/istio-version.js';
import type { ClusterState, ControlPlane } from '../../../src/installer/model/state.js';
import {
  describePath,
  mirrorAddCommand,
  prepareSiteCommand,
  specForHop,
  stepFor,
  upgradePath,
} from '../../../src/installer/decide/path.js';
import { restartCommand, skewGate, type ProxyPod } from '../../../src/installer/decide/skew.js';
import { recognise, type FoundObject, type TakeoverFacts } from '../../../src/installer/decide/takeover.js';

/** upgradePath without a Kubernetes to satisfy, which always finds a path. */
const pathOf = (...args: Parameters<typeof upgradePath>) => {
  const hops = upgradePath(...args);
  if (!hops) throw new Error('no path');
  return hops;
};

const v = (text: string): IstioVersion => {
  const parsed = parseIstioVersion(text);
  if (!parsed) throw new Error(text);
  return parsed;
};

const plane = (version: string, revision = 'default'): ControlPlane => ({
  kind: 'Deployment',
  name: revision === 'default' ? 'istiod' : `istiod-${revision}`,
  deployment: revision === 'default' ? 'istiod' : `istiod-${revision}`,
  namespace: 'istio-system',
  revision,
  version: v(version),
  image: `rancher/mirrored-istio-pilot:${version}-distroless`,
  ready: true,
  replicas: 1,
  readyReplicas: 1,
  updatedReplicas: 1,
  selector: 'app=istiod',
  serviceAccount: 'istiod',
});

const state = (planes: ControlPlane[], extra: Partial<ClusterState> = {}): ClusterState => ({
  namespace: 'istio-system',
  controlPlanes: planes,
  gateways: [
    { ...plane('1.25.0'), name: 'istio-ingressgateway', revision: 'default', serviceAccount: undefined },
  ],
  agents: [],
  webhooks: [],
  tags: { default: 'default' },
  services: [],
  serviceAccounts: [],
  lock: undefined,
  legacyPilot: false,
  record: undefined,
  ...extra,
});

const object = (kind: string, name: string, extra: Partial<FoundObject> = {}): FoundObject => ({
  kind,
  namespace: 'istio-system',
  name,
  labels: {},
  annotations: {},
  ...extra,
});

const istioctlMade = (name = 'istiod') =>
  object('Deployment', name, {
    labels: {
      'operator.istio.io/component': 'Pilot',
      'install.operator.istio.io/owning-resource': 'unknown',
    },
  });
const rancherConfigMap = (release = 'rancher-istio') =>
  object('ConfigMap', 'istio-installer-base', { annotations: { 'meta.helm.sh/release-name': release } });

const facts = (extra: Partial<TakeoverFacts> = {}): TakeoverFacts => ({
  istiod: [istioctlMade()],
  rancherConfigMaps: [],
  rancherJobs: [],
  istioOperators: [],
  operatorDeployments: [],
  helmRevisions: [],
  release: 'rancher-istio',
  ...extra,
});

describe('recognise', () => {
  test("Rancher's install, taken over by helm upgrade of its release: adopted, with what was found", () => {
    const result = recognise(
      state([plane('1.25.0')]),
      facts({
        rancherConfigMaps: [rancherConfigMap()],
        rancherJobs: [{ ...object('Job', 'istioctl-installer'), active: false }],
      }),
    );
    expect(result).toEqual({
      kind: 'adopt',
      found: {
        installedBy:
          "Rancher's rancher-istio chart (release rancher-istio, ConfigMap istio-installer-base), applied by istioctl",
        version: '1.25.0',
        revision: 'default',
        gateways: ['istio-system/istio-ingressgateway'],
      },
      leftovers: [
        {
          kind: 'Job',
          namespace: 'istio-system',
          name: 'istioctl-installer',
          why: "Rancher's installer hook Job, left behind (it ran Rancher's istioctl)",
        },
        {
          kind: 'ConfigMap',
          namespace: 'istio-system',
          name: 'istio-installer-base',
          why: "Rancher's installer input, which no release owns any more",
        },
      ],
    });
  });

  test("during helm upgrade of Rancher's release onto this chart: Helm's history names Rancher's chart", () => {
    const revisions = [
      {
        release: 'rancher-istio',
        revision: 1,
        chart: 'rancher-istio',
        chartVersion: '107.1.0+up1.25.0',
        status: 'superseded',
      },
      {
        release: 'rancher-istio',
        revision: 2,
        chart: 'rancher-istio',
        chartVersion: '0.1.0',
        status: 'deployed',
      },
    ];
    expect(recognise(state([plane('1.25.0')]), facts({ helmRevisions: revisions }))).toMatchObject({
      kind: 'adopt',
      found: {
        installedBy:
          "Rancher's rancher-istio chart 107.1.0+up1.25.0 (Helm release rancher-istio, revision 1), applied by istioctl",
      },
    });
  });

  test("after helm uninstall --no-hooks: Rancher's objects are gone, istioctl's control plane is adopted", () => {
    const result = recognise(state([plane('1.23.2')]), facts({ release: 'istio' }));
    expect(result).toMatchObject({
      kind: 'adopt',
      found: {
        installedBy: 'istioctl (no installer record, no Helm release of Rancher left)',
        version: '1.23.2',
      },
      leftovers: [],
    });
  });

  test('a record of ours means no takeover; an empty cluster is a fresh install', () => {
    const record = {
      current: {
        action: 'install',
        outcome: 'succeeded' as const,
        specSha256: 'x',
        istioVersion: '1.31.0',
        revision: 'default',
        chartVersion: '0.1.0',
        installerVersion: '0.1.0',
        time: 't',
      },
      lastGood: undefined,
      history: [],
      spec: undefined,
      lastGoodSpec: undefined,
    };
    expect(recognise(state([plane('1.31.0')], { record }), facts())).toEqual({ kind: 'ours' });
    expect(recognise(state([]), facts({ istiod: [] }))).toEqual({ kind: 'fresh' });
  });

  test('two control planes of unknown origin are refused, naming both', () => {
    const result = recognise(
      state([plane('1.24.1'), plane('1.25.0', '1-25-0')]),
      facts({ istiod: [istioctlMade(), istioctlMade('istiod-1-25-0')] }),
    );
    expect(result).toMatchObject({ kind: 'refuse' });
    expect(result.kind === 'refuse' && result.message).toBe(
      '2 control planes of unknown origin (istio-system/istiod 1.24.1, istio-system/istiod-1-25-0 1.25.0) and no record of this installer',
    );
  });

  test('an operator-managed install is refused, naming the operator and its IstioOperator', () => {
    const result = recognise(
      state([plane('1.23.2')]),
      facts({
        operatorDeployments: [object('Deployment', 'istio-operator', { namespace: 'istio-operator' })],
        istioOperators: [object('IstioOperator', 'installed-state')],
      }),
    );
    expect(result.kind === 'refuse' && result.message).toBe(
      "Istio's in-cluster operator runs (Deployment istio-operator/istio-operator) and reconciles IstioOperator istio-system/installed-state: it would undo what this installer applies",
    );
  });

  test("Istio's own Helm charts, an unlabelled istiod, a running Rancher Job, a live Rancher release: refused", () => {
    const helmIstiod = object('Deployment', 'istiod', {
      labels: { 'app.kubernetes.io/managed-by': 'Helm', 'operator.istio.io/component': 'Pilot' },
      annotations: { 'meta.helm.sh/release-name': 'istiod' },
    });
    const rancherRevision = {
      release: 'rancher-istio',
      revision: 3,
      chart: 'rancher-istio',
      chartVersion: '107.1.0+up1.25.0',
      status: 'deployed',
    };
    const cases: [TakeoverFacts, RegExp][] = [
      [facts({ istiod: [helmIstiod] }), /belongs to Helm release istiod/],
      [facts({ istiod: [object('Deployment', 'istiod')] }), /was not made by istioctl/],
      [
        facts({ rancherJobs: [{ ...object('Job', 'istioctl-installer'), active: true }] }),
        /Rancher's installer is running \(Job istio-system\/istioctl-installer\)/,
      ],
      [
        facts({ rancherConfigMaps: [rancherConfigMap()], release: 'istio' }),
        /Rancher's release rancher-istio is still installed/,
      ],
      [facts({ rancherConfigMaps: [rancherConfigMap()], release: undefined }), /still installed/],
      [
        facts({ helmRevisions: [rancherRevision], release: 'istio' }),
        /release rancher-istio is still installed/,
      ],
    ];
    for (const [input, message] of cases) {
      const result = recognise(state([plane('1.25.0')]), input);
      expect(result.kind === 'refuse' ? result.message : result.kind).toMatch(message);
    }
  });
});

describe('upgradePath', () => {
  const all = ['1.25.2', '1.27.5', '1.27.6', '1.29.3', '1.30.4', '1.31.0'];
  const path = (from: string, to: string, available = all) =>
    pathOf(v(from), v(to), available).map((h) => `${h.version}${h.istioctl === 'missing' ? '?' : ''}`);

  test("Rancher's lines to 1.31: the fewest hops of at most two minors, newest available patch per minor", () => {
    expect(path('1.23.2', '1.31.0')).toEqual(['1.25.2', '1.27.6', '1.29.3', '1.31.0']);
    expect(path('1.24.1', '1.31.0')).toEqual(['1.25.2', '1.27.6', '1.29.3', '1.31.0']);
    expect(path('1.25.0', '1.31.0')).toEqual(['1.27.6', '1.29.3', '1.31.0']);
    expect(path('1.30.4', '1.31.0')).toEqual(['1.31.0']);
    expect(path('1.29.0', '1.31.0')).toEqual(['1.31.0']);
    expect(path('1.31.0', '1.31.0')).toEqual([]);
    expect(path('1.31.0', '1.30.4')).toEqual([]);
  });

  test('every hop is at most two minors and the path ends on the target', () => {
    for (let from = 18; from <= 31; from++) {
      const hops = pathOf(v(`1.${from}.0`), v('1.31.0'), []);
      const minors = [from, ...hops.map((h) => Number(h.version.split('.')[1]))];
      for (let i = 1; i < minors.length; i++)
        expect((minors[i] ?? 0) - (minors[i - 1] ?? 0)).toBeLessThanOrEqual(2);
      if (from < 31) expect(hops.at(-1)?.version).toBe('1.31.0');
      expect(hops.length).toBe(Math.ceil((31 - from) / 2));
    }
  });

  test('a minor whose istioctl is nowhere is named, with the mirror add command', () => {
    const hops = pathOf(v('1.23.2'), v('1.31.0'), ['1.30.4', '1.31.0']);
    expect(hops.map((h) => `${h.version}:${h.istioctl}`)).toEqual([
      '1.25:missing',
      '1.27:missing',
      '1.29:missing',
      '1.31.0:available',
    ]);
    expect(describePath(v('1.23.2'), hops)).toEqual([
      '  path: 1.23.2 -> 1.25 -> 1.27 -> 1.29 -> 1.31.0 (4 canary hops of at most two minors)',
      '  missing: istioctl 1.25 is neither bundled, on PATH nor in the release mirror',
      '  missing: istioctl 1.27 is neither bundled, on PATH nor in the release mirror',
      '  missing: istioctl 1.29 is neither bundled, on PATH nor in the release mirror',
      '  hop 1.31.0: istioctl 1.31.0',
    ]);
    expect(
      mirrorAddCommand(hops[0] ?? { version: '', istioctl: 'missing' }, { os: 'linux', arch: 'amd64' }),
    ).toBe('istio-installer mirror add --dir DIR istioctl-1.25.<patch>-linux-amd64.tar.gz');
    // prepare-site is given every hop, so it plans this same path; arm64 is said, amd64 is its default.
    expect(prepareSiteCommand(v('1.23.2'), hops, { major: 1, minor: 32 }, { arch: 'arm64' })).toBe(
      'istio-installer prepare-site --dir DIR --chart CHART -f VALUES --from 1.23.2 --kube 1.32 --istio-version 1.25.<patch> --istio-version 1.27.<patch> --istio-version 1.29.<patch> --istio-version 1.31.0 --arch arm64',
    );
    expect(prepareSiteCommand(v('1.23.2'), hops.slice(-1), undefined, { arch: 'amd64' })).toBe(
      'istio-installer prepare-site --dir DIR --chart CHART -f VALUES --from 1.23.2 --kubeconfig KUBECONFIG --istio-version 1.31.0',
    );
  });

  test('a re-run resumes where the cluster is: the path is planned from the active revision, not from the start', () => {
    // Killed after the 1.27 hop moved the tags: the active revision is 1-27 (at 1.27.6), so the path goes on from there.
    expect(path('1.27.6', '1.31.0')).toEqual(['1.29.3', '1.31.0']);
    // Killed after the 1.29 hop: one hop left.
    expect(path('1.29.3', '1.31.0')).toEqual(['1.31.0']);
  });
});

describe('stepFor: revision names', () => {
  const available = ['1.25.2', '1.27.6', '1.29.3', '1.31.0'];
  const desired = {
    istioOperator: { spec: { tag: '1.31.0' } },
    version: v('1.31.0'),
    strategy: 'InPlace' as const,
  };
  const linux = { os: 'linux', arch: 'amd64' };

  test("an intermediate hop's revision is named by its minor, which the chart's RBAC can name before the patch is known", () => {
    const step = stepFor(state([plane('1.23.2')]), true, desired, available, linux);
    expect(step).toMatchObject({ version: v('1.25.2'), revision: '1-25', strategy: 'RevisionBased' });
  });

  test('a run resumed on a transit revision stays revision-based; its last hop takes the configured name', () => {
    const step = stepFor(
      state([plane('1.29.3', '1-29')], { tags: { default: '1-29' } }),
      false,
      desired,
      available,
      linux,
    );
    expect(step).toMatchObject({ version: v('1.31.0'), strategy: 'RevisionBased' });
    expect(step).not.toHaveProperty('revision');
  });
});

describe('specForHop', () => {
  test("the tag and every image pinned to the target's version move to the hop's, variants kept", () => {
    const spec = {
      spec: {
        tag: '1.31.0',
        hub: 'docker.io',
        components: { pilot: { k8s: { env: [{ name: 'X', value: '1.31.0' }] } } },
        values: {
          pilot: { image: 'rancher/mirrored-istio-pilot:1.31.0-distroless' },
          global: { proxy: { image: 'reg:5000/rancher/mirrored-istio-proxyv2:1.31.0' } },
          other: { image: 'quay.io/kiali/kiali:v2.0.0' },
        },
      },
    };
    expect(specForHop(spec, v('1.31.0'), v('1.29.3'))).toEqual({
      spec: {
        tag: '1.29.3',
        hub: 'docker.io',
        components: { pilot: { k8s: { env: [{ name: 'X', value: '1.31.0' }] } } },
        values: {
          pilot: { image: 'rancher/mirrored-istio-pilot:1.29.3-distroless' },
          global: { proxy: { image: 'reg:5000/rancher/mirrored-istio-proxyv2:1.29.3' } },
          other: { image: 'quay.io/kiali/kiali:v2.0.0' },
        },
      },
    });
    expect(specForHop(spec, v('1.31.0'), v('1.31.0'))).toBe(spec);
  });
});

describe('skewGate', () => {
  const pod = (name: string, version: string, bare = false): ProxyPod => ({
    namespace: 'apps',
    name: `${name}-abc`,
    revision: 'default',
    proxyVersion: v(version),
    owner: bare ? undefined : `Deployment apps/${name}`,
  });

  test('proxies one minor behind the active revision are within the policy', () => {
    expect(skewGate([pod('web', '1.29.3')], v('1.30.4'), v('1.31.0'), false)).toEqual({ kind: 'go' });
  });

  test('proxies two minors behind the active revision stop the path with exit-3 data naming them and the commands to continue', () => {
    const decision = skewGate([pod('web', '1.25.0'), pod('api', '1.27.6')], v('1.27.6'), v('1.29.3'), false);
    expect(decision).toEqual({
      kind: 'stop',
      message:
        '1 pod(s) in namespace(s) apps run proxies more than 1 minor behind Istio 1.27.6, the active revision, before the hop to 1.29.3: apps/web-abc (revision default, proxy 1.25.0)',
      hint: 'restart the workloads (kubectl -n apps rollout restart deployment/web), then run again; or set upgrade.updateWorkloads: true and the installer restarts them between hops',
    });
  });

  test('with updateWorkloads the owners are restarted; a bare pod still stops the path', () => {
    expect(
      skewGate([pod('web', '1.25.0'), pod('web', '1.25.0')], v('1.27.6'), v('1.29.3'), true),
    ).toMatchObject({
      kind: 'restart',
      owners: ['Deployment apps/web'],
    });
    expect(skewGate([pod('bare', '1.25.0', true)], v('1.27.6'), v('1.29.3'), true)).toMatchObject({
      kind: 'stop',
      hint: expect.stringMatching(/^delete the bare pods \(apps\/bare-abc\)/),
    });
    expect(restartCommand('StatefulSet db/pg')).toBe('kubectl -n db rollout restart statefulset/pg');
  });
});

describe('what a path needs, for an air-gapped registry and mirror', () => {
  test("per hop: its istioctl and the images its spec pulls, Rancher's pinned ones re-pinned", () => {
    const spec = {
      spec: {
        tag: '1.31.0',
        hub: 'docker.io',
        components: { cni: { enabled: true } },
        values: {
          pilot: { image: 'reg.local/rancher/mirrored-istio-pilot:1.31.0-distroless' },
          global: { proxy: { image: 'reg.local/rancher/mirrored-istio-proxyv2:1.31.0-distroless' } },
        },
      },
    };
    const hops = pathOf(v('1.27.6'), v('1.31.0'), ['1.29.3', '1.31.0']);
    expect(describePath(v('1.27.6'), hops, { spec, version: v('1.31.0') })).toEqual([
      '  path: 1.27.6 -> 1.29.3 -> 1.31.0 (2 canary hops of at most two minors)',
      '  hop 1.29.3: istioctl 1.29.3; images reg.local/rancher/mirrored-istio-pilot:1.29.3-distroless, reg.local/rancher/mirrored-istio-proxyv2:1.29.3-distroless, docker.io/install-cni:1.29.3',
      '  hop 1.31.0: istioctl 1.31.0; images reg.local/rancher/mirrored-istio-pilot:1.31.0-distroless, reg.local/rancher/mirrored-istio-proxyv2:1.31.0-distroless, docker.io/install-cni:1.31.0',
    ]);
    // A minor whose istioctl is missing: its images carry the patch of the istioctl the user will add.
    const missing = pathOf(v('1.27.6'), v('1.31.0'), ['1.31.0']);
    expect(describePath(v('1.27.6'), missing, { spec, version: v('1.31.0') })[1]).toBe(
      '  missing: istioctl 1.29 is neither bundled, on PATH nor in the release mirror; images reg.local/rancher/mirrored-istio-pilot:1.29.<patch>-distroless, reg.local/rancher/mirrored-istio-proxyv2:1.29.<patch>-distroless, docker.io/install-cni:1.29.<patch>',
    );
  });
});
