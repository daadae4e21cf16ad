// Decisions: what a run does for each cluster state, and every guard with its override.
import {
  parseIstioVersion,
  compareVersions,
  minorDistance,
  versionOfImage,
} from '../../../src/installer/model/istio-version.js';
import {
  ambientNotes,
  controlPlaneFirstSpec,
  planAction,
  type Desired,
  type Plan,
} from '../../../src/installer/decide/plan.js';
import type { Refused as Refusal } from '../../../src/installer/model/refusal.js';
import type { ClusterState, ControlPlane } from '../../../src/installer/model/state.js';
import type { RecordEntry } from '../../../src/installer/model/record.js';

const v = (text: string) => {
  const parsed = parseIstioVersion(text);
  if (!parsed) throw new Error(text);
  return parsed;
};

const plane = (version: string, revision = 'default', ready = true): ControlPlane => ({
  kind: 'Deployment',
  name: revision === 'default' ? 'istiod' : `istiod-${revision}`,
  serviceAccount: undefined,
  revision,
  deployment: revision === 'default' ? 'istiod' : `istiod-${revision}`,
  namespace: 'istio-system',
  version: v(version),
  image: `x/pilot:${version}`,
  ready,
  replicas: 1,
  readyReplicas: ready ? 1 : 0,
  updatedReplicas: ready ? 1 : 0,
  selector: 'app=istiod',
});

const entry = (
  hash: string,
  revision = 'default',
  outcome: RecordEntry['outcome'] = 'succeeded',
): RecordEntry => ({
  action: 'install',
  outcome,
  specSha256: hash,
  istioVersion: '1.31.0',
  revision,
  chartVersion: '0.1.0',
  installerVersion: '0.1.0',
  time: '2026-11-21T00:00:00Z',
});

const injector = (revision: string) => ({
  kind: 'MutatingWebhookConfiguration' as const,
  name: `istio-sidecar-injector${revision === 'default' ? '' : `-${revision}`}`,
  revision,
  tag: undefined,
  services: [`istio-system/istiod${revision === 'default' ? '' : `-${revision}`}`],
});

const state = (planes: ControlPlane[], extra: Partial<ClusterState> = {}): ClusterState => ({
  namespace: 'istio-system',
  controlPlanes: planes,
  gateways: [],
  agents: [],
  webhooks: planes.map((p) => injector(p.revision)),
  tags: {},
  services: [],
  serviceAccounts: [],
  lock: undefined,
  legacyPilot: false,
  record: undefined,
  ...extra,
});

const desired = (tag: string, extra: Partial<Desired> = {}): Desired => ({
  istioOperator: { apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', spec: { tag } },
  version: parseIstioVersion(tag),
  revision: '',
  strategy: 'InPlace',
  revisionTags: [],
  force: false,
  ...extra,
});

const asPlan = (result: Plan | Refusal): Plan => {
  if ('refused' in result) throw new Error(`refused: ${result.message}`);
  return result;
};
const asRefusal = (result: Plan | Refusal): Refusal => {
  if (!('refused' in result)) throw new Error(`planned ${result.kind}`);
  return result;
};
const record = (current: RecordEntry) => ({
  current,
  lastGood: current,
  history: [current],
  spec: undefined,
  lastGoodSpec: undefined,
});

describe('versions', () => {
  test('compare as numbers, not strings', () => {
    expect(compareVersions(v('1.10.0'), v('1.9.9'))).toBeGreaterThan(0);
    expect(minorDistance(v('1.29.3'), v('1.31.0'))).toBe(2);
    expect(versionOfImage('registry.example.com:5000/istio/pilot:1.31.0-distroless')).toEqual({
      ...v('1.31.0'),
      suffix: '-distroless',
    });
    expect(versionOfImage('registry.example.com:5000/istio/pilot')).toBeUndefined();
  });
});

describe('in place', () => {
  test('nothing installed -> install', () => {
    expect(asPlan(planAction(state([]), desired('1.31.0'), 'h')).kind).toBe('install');
  });

  test('same version, same spec, healthy -> nothing', () => {
    const plan = asPlan(
      planAction(state([plane('1.31.0')], { record: record(entry('h')) }), desired('1.31.0'), 'h'),
    );
    expect(plan.kind).toBe('nothing');
  });

  test('spec changed -> reconfigure', () => {
    const plan = asPlan(
      planAction(state([plane('1.31.0')], { record: record(entry('old')) }), desired('1.31.0'), 'new'),
    );
    expect(plan.kind).toBe('reconfigure');
    expect(plan.reason).toMatch(/spec changed/);
  });

  test('no record (installed by someone else) -> reconfigure', () => {
    expect(asPlan(planAction(state([plane('1.31.0')]), desired('1.31.0'), 'h')).kind).toBe('reconfigure');
  });

  test('last run failed -> reconfigure even with the same spec', () => {
    expect(
      asPlan(
        planAction(
          state([plane('1.31.0')], { record: record(entry('h', 'default', 'failed')) }),
          desired('1.31.0'),
          'h',
        ),
      ).kind,
    ).toBe('reconfigure');
  });

  test('injection webhook missing (an interrupted uninstall) -> repair', () => {
    const plan = asPlan(
      planAction(
        state([plane('1.31.0')], { record: record(entry('h')), webhooks: [] }),
        desired('1.31.0'),
        'h',
      ),
    );
    expect(plan.kind).toBe('repair');
  });

  test('not ready -> repair', () => {
    expect(
      asPlan(
        planAction(
          state([plane('1.31.0', 'default', false)], { record: record(entry('h')) }),
          desired('1.31.0'),
          'h',
        ),
      ).kind,
    ).toBe('repair');
  });

  test('one minor up -> upgrade in place', () => {
    const plan = asPlan(planAction(state([plane('1.30.4')]), desired('1.31.0'), 'h'));
    expect(plan.kind).toBe('upgrade-in-place');
    expect(plan.reason).toBe('upgrade default in place from 1.30.4 to 1.31.0');
  });

  test('a patch up -> upgrade in place', () => {
    expect(asPlan(planAction(state([plane('1.31.0')]), desired('1.31.2'), 'h')).kind).toBe(
      'upgrade-in-place',
    );
  });

  test('two minors up in place -> refused, saying what to do', () => {
    const refusal = asRefusal(planAction(state([plane('1.29.3')]), desired('1.31.0'), 'h'));
    expect(refusal.message).toMatch(/skips 1 minor release/);
    expect(refusal.hint).toMatch(/1\.30\.x first.*RevisionBased/);
  });

  test('downgrade -> refused', () => {
    expect(asRefusal(planAction(state([plane('1.31.0')]), desired('1.30.4'), 'h')).message).toMatch(
      /downgrade from 1.31.0 to 1.30.4/,
    );
  });

  test('Istio 1.5 istio-pilot -> refused', () => {
    expect(asRefusal(planAction(state([], { legacyPilot: true }), desired('1.31.0'), 'h')).message).toMatch(
      /istio-pilot/,
    );
  });

  test('forceInstall passes every guard and says which', () => {
    const plan = asPlan(
      planAction(state([plane('1.29.3')], { legacyPilot: true }), desired('1.31.0', { force: true }), 'h'),
    );
    expect(plan.kind).toBe('upgrade-in-place');
    expect(plan.overridden).toHaveLength(2);
  });

  test('an unreadable installed version is refused unless forced', () => {
    const unknown = { ...plane('1.31.0'), version: undefined, image: 'x/pilot@sha256:abc' };
    expect(asRefusal(planAction(state([unknown]), desired('1.31.0'), 'h')).message).toMatch(
      /cannot tell the Istio version/,
    );
  });

  test('a second revision next to the default one -> install of that revision', () => {
    expect(
      asPlan(planAction(state([plane('1.31.0')]), desired('1.31.0', { revision: 'blue' }), 'h')).kind,
    ).toBe('install');
  });
});

describe('revision based (canary)', () => {
  const canary = (tag: string, extra: Partial<Desired> = {}) =>
    desired(tag, { strategy: 'RevisionBased', revisionTags: ['prod-stable'], ...extra });

  test('fresh cluster -> install as revision <major>-<minor>-<patch> and point the tags at it', () => {
    const plan = asPlan(planAction(state([]), canary('1.31.0'), 'h'));
    expect(plan).toMatchObject({ kind: 'install', revision: '1-31-0', moveTags: ['default', 'prod-stable'] });
    expect((plan.istioOperator.spec as { revision: string }).revision).toBe('1-31-0');
  });

  test('1.30 -> 1.31: canary next to the old revision', () => {
    const plan = asPlan(planAction(state([plane('1.30.4')]), canary('1.31.0'), 'h'));
    expect(plan).toMatchObject({
      kind: 'upgrade-canary',
      revision: '1-31-0',
      previousRevision: 'default',
      moveTags: ['default', 'prod-stable'],
    });
  });

  test('a canary may skip one minor', () => {
    expect(asPlan(planAction(state([plane('1.29.3')]), canary('1.31.0'), 'h')).kind).toBe('upgrade-canary');
  });

  test('but not two', () => {
    expect(asRefusal(planAction(state([plane('1.28.0')]), canary('1.31.0'), 'h')).message).toMatch(
      /at most two/,
    );
  });

  test('a canary older than the active revision is refused', () => {
    expect(
      asRefusal(
        planAction(
          state([plane('1.31.0', '1-31-0')], { tags: { default: '1-31-0' } }),
          canary('1.30.4'),
          'h',
        ),
      ).message,
    ).toMatch(/older than the active revision/);
  });

  test('the new revision exists but the tags still point at the old one -> move them', () => {
    const planes = [plane('1.30.4', '1-30-4'), plane('1.31.0', '1-31-0')];
    const plan = asPlan(
      planAction(
        state(planes, { tags: { default: '1-30-4' }, record: record(entry('h', '1-31-0')) }),
        canary('1.31.0'),
        'h',
      ),
    );
    expect(plan).toMatchObject({
      kind: 'reconfigure',
      moveTags: ['default', 'prod-stable'],
      previousRevision: '1-30-4',
    });
  });

  test('a user tag added to the active revision is moved, and the active revision is not retired', () => {
    const planes = [plane('1.31.0', '1-31-0')];
    const plan = asPlan(
      planAction(
        state(planes, { tags: { default: '1-31-0' }, record: record(entry('h', '1-31-0')) }),
        canary('1.31.0'),
        'h',
      ),
    );
    expect(plan).toMatchObject({
      kind: 'reconfigure',
      moveTags: ['prod-stable'],
      previousRevision: undefined,
    });
  });

  test('all done -> nothing', () => {
    const planes = [plane('1.31.0', '1-31-0')];
    const tags = { default: '1-31-0', 'prod-stable': '1-31-0' };
    expect(
      asPlan(planAction(state(planes, { tags, record: record(entry('h', '1-31-0')) }), canary('1.31.0'), 'h'))
        .kind,
    ).toBe('nothing');
  });
});

describe('ambient notes in the plan', () => {
  const ambientPlan = (kind: Plan['kind']): Plan => ({
    kind,
    reason: 'r',
    istioOperator: { spec: { profile: 'ambient', tag: '1.31.0' } },
    revision: 'default',
    fromVersion: undefined,
    toVersion: undefined,
    previousRevision: undefined,
    moveTags: [],
    overridden: [],
    problems: [],
  });

  test("an in-place upgrade of an ambient mesh gives Sail Operator's order and warns about ztunnel restarts", () => {
    expect(ambientNotes(ambientPlan('upgrade-in-place'))).toEqual([
      "  order (Sail Operator's, when the node agents run an older version): the control plane first (an istioctl run without istio-cni and ztunnel), then istio-cni, then ztunnel once istio-cni is ready",
      expect.stringContaining(
        'warning: a ztunnel restart cuts the existing connections of every ambient pod on its node',
      ),
    ]);
  });

  test('a first install has the order but nothing to cut; a sidecar mesh has no notes', () => {
    expect(ambientNotes(ambientPlan('install'))).toHaveLength(1);
    const sidecar = { ...ambientPlan('upgrade-in-place'), istioOperator: { spec: { profile: 'default' } } };
    expect(ambientNotes(sidecar)).toEqual([]);
  });

  test('a canary says the node agents move to the new revision in place', () => {
    expect(ambientNotes({ ...ambientPlan('upgrade-canary'), revision: '1-31-0' })[1]).toContain(
      'move to revision 1-31-0 in place',
    );
  });
});

describe("Sail Operator's order for an in-place upgrade of the node agents", () => {
  const agent = (name: string, version: string) => ({
    ...plane(version),
    kind: 'DaemonSet' as const,
    name,
    image: `x/${name}:${version}`,
    selector: `app=${name}`,
    appliedBy: version,
  });
  const upgrade = (spec: Record<string, unknown>, to = '1.31.0'): Plan => ({
    kind: 'upgrade-in-place',
    reason: 'r',
    istioOperator: { kind: 'IstioOperator', spec: { tag: to, ...spec } },
    revision: 'default',
    fromVersion: v('1.30.4'),
    toVersion: v(to),
    previousRevision: undefined,
    moveTags: [],
    overridden: [],
    problems: [],
  });
  const older = state([plane('1.30.4')], {
    agents: [agent('istio-cni-node', '1.30.4'), agent('ztunnel', '1.30.4')],
  });

  test('the first run is the spec without istio-cni and ztunnel, whatever else they say', () => {
    const plan = upgrade({ profile: 'ambient', components: { cni: { namespace: 'kube-system' } } });
    expect(controlPlaneFirstSpec(plan, older)).toEqual({
      kind: 'IstioOperator',
      spec: {
        tag: '1.31.0',
        profile: 'ambient',
        components: { cni: { namespace: 'kube-system', enabled: false }, ztunnel: { enabled: false } },
      },
    });
  });

  test('one run when a node agent already runs the target version or was applied by it, when none exists, or for other plans', () => {
    const plan = upgrade({ profile: 'ambient' });
    const halfDone = state([plane('1.30.4')], {
      agents: [agent('istio-cni-node', '1.31.0'), agent('ztunnel', '1.30.4')],
    });
    expect(controlPlaneFirstSpec(plan, halfDone)).toBeUndefined();
    // istioctl 1.31.0 would prune what it applied itself (an image pinned to 1.30.4 by values.cni.tag), or what has
    // no version label: one run.
    const pinned = state([plane('1.30.4')], {
      agents: [agent('istio-cni-node', '1.30.4'), { ...agent('ztunnel', '1.30.4'), appliedBy: '1.31.0' }],
    });
    expect(controlPlaneFirstSpec(plan, pinned)).toBeUndefined();
    const unlabelled = state([plane('1.30.4')], {
      agents: [agent('istio-cni-node', '1.30.4'), { ...agent('ztunnel', '1.30.4'), appliedBy: undefined }],
    });
    expect(controlPlaneFirstSpec(plan, unlabelled)).toBeUndefined();
    expect(controlPlaneFirstSpec(plan, state([plane('1.30.4')]))).toBeUndefined();
    expect(controlPlaneFirstSpec({ ...plan, kind: 'reconfigure' }, older)).toBeUndefined();
    expect(controlPlaneFirstSpec({ ...plan, kind: 'upgrade-canary' }, older)).toBeUndefined();
    // A sidecar mesh whose spec no longer enables the node agents (the last run will remove them): one run.
    expect(controlPlaneFirstSpec(upgrade({ profile: 'default' }), older)).toBeUndefined();
  });
});
