// The chart under a real Rancher Fleet on two rigs: examples/fleet as a user would keep it in Git, turned into a
// Bundle by `fleet apply` (what Fleet's GitRepo job runs on a checkout), reaches both clusters through their agents and
// each installs Istio through the chart's Job and records it (on east by taking over a Rancher-shaped install); what
// Helm's `lookup` returns under Fleet's Helm deployer; a values change upgrades both; a gateway deleted by hand is left
// to the installer's next run; refused values stop at the canary.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalImage } from '../container/local-image.js';
import { ranIn, startChartRig, type ChartRig } from '../chart/chart-rig.js';
import { CHART, NAMESPACE, RELEASE } from '../chart/render.js';
import { startFleet, type Fleet } from '../cluster/fleet.js';
import type { Cluster } from '../cluster/rig.js';
import { eventually } from '../cluster/testkit.js';
import { FLEET_VERSION } from '../cluster/fleet-build.js';
import { decodeRecord, RECORD_CONFIGMAP } from '../../src/installer/model/record.js';
import { installRancherShaped, RANCHER_ISTIO } from '../e2e/rancher-shaped.js';

const say = (line: string) => process.stderr.write(`fleet: ${line}\n`);
const BUNDLE = 'rancher-istio';
// What a GitRepo's `targets` would say, passed as Fleet's GitRepo job passes them to `fleet apply`: every cluster
// that declares a data plane.
const GITREPO_TARGETS = [
  'targets:',
  '  - name: istio-clusters',
  '    clusterSelector:',
  '      matchExpressions:',
  '        - { key: istio.example.com/data-plane, operator: Exists }',
  'targetRestrictions:',
  '  - name: istio-clusters',
  '    clusterSelector:',
  '      matchExpressions:',
  '        - { key: istio.example.com/data-plane, operator: Exists }',
  '',
].join('\n');

interface List<T> {
  items: T[];
}
interface BundleDeployment {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { deploymentID?: string };
  status?: {
    appliedDeploymentID?: string;
    ready?: boolean;
    display?: { state?: string };
    conditions?: { type: string; status: string; message?: string }[];
  };
}

let rigs: ChartRig[] = [];
let east: Cluster;
let west: Cluster;
let fleet: Fleet;
let repo: string;
/** The deployment IDs both clusters applied in the first round. */
let deployed: string[] = [];

beforeAll(async () => {
  // east is the management cluster too, as Rancher's local cluster is under fleet-local.
  rigs = [
    await startChartRig('fleet-east', { lifetimeMs: 40 * 60_000, nodes: 1 }),
    await startChartRig('fleet-west', { lifetimeMs: 40 * 60_000, nodes: 1 }),
  ];
  [east, west] = rigs.map((r) => r.cluster) as [Cluster, Cluster];
  say(`Fleet ${FLEET_VERSION}; ${east.podRuntime.reason}`);
  if (east.podRuntime.mode === 'podman') await ensureLocalImage(say);
  const work = rigs[0]?.work ?? '';
  // east runs Rancher's Istio (a Rancher-shaped install at 1.30.4: Rancher's release `rancher-istio`, its Kiali
  // selecting instance `kiali`, rancher-monitoring's cattle-dashboards namespace), so Fleet's first deployment there is
  // a takeover; west has nothing. What lookup finds differs between them: the namespace, Kiali's Deployment.
  await installRancherShaped(east, work);
  fleet = await startFleet({
    management: east,
    downstream: [
      {
        name: 'east',
        cluster: east,
        labels: { 'istio.example.com/data-plane': 'sidecar', 'istio.example.com/rollout': 'canary' },
      },
      { name: 'west', cluster: west, labels: { 'istio.example.com/data-plane': 'ambient' } },
    ],
    dir: join(work, 'fleet'),
    log: say,
  });
  // The Git checkout: the example as a user copies it, with the chart beside fleet.yaml.
  repo = mkdtempSync(join(work, 'repo-'));
  cpSync('examples/fleet', repo, { recursive: true });
  cpSync(CHART, join(repo, 'rancher-istio'), { recursive: true });
  writeFileSync(join(repo, '..', 'targets.yaml'), GITREPO_TARGETS);
}, 15 * 60_000);

afterAll(async () => {
  await fleet?.stop();
  for (const rig of rigs.reverse()) await rig.stop();
});

/** `fleet apply` of the checkout, as the GitRepo job runs it. */
async function apply(): Promise<void> {
  const r = await fleet.apply(BUNDLE, repo, [`--targets-file=${join(repo, '..', 'targets.yaml')}`]);
  expect({ exitCode: r.exitCode, output: r.exitCode === 0 ? '' : r.all }).toEqual({
    exitCode: 0,
    output: '',
  });
}

/** The BundleDeployments of the Bundle, one per registered cluster (on the management cluster). */
async function bundleDeployments(): Promise<BundleDeployment[]> {
  const all: BundleDeployment[] = [];
  for (const c of Object.values(fleet.clusters)) {
    const bds = await east.kube.get<List<BundleDeployment>>(
      `/apis/fleet.cattle.io/v1alpha1/namespaces/${c.namespace}/bundledeployments`,
    );
    all.push(...bds.items.filter((b) => b.metadata.labels?.['fleet.cattle.io/bundle-name'] === BUNDLE));
  }
  return all;
}

/**
 * Waits until both clusters applied a deployment other than `before` (the IDs of the last round) and are Ready; a
 * timeout says what Fleet reports for the Bundle and each cluster.
 */
async function bothReady(what: string, before: string[] = []): Promise<string[]> {
  const ready = eventually(what, 10 * 60_000, async () => {
    const bds = await bundleDeployments();
    const done = bds.filter(
      (b) =>
        b.status?.ready &&
        b.spec?.deploymentID &&
        !before.includes(b.spec.deploymentID) &&
        b.status.appliedDeploymentID === b.spec.deploymentID,
    );
    return bds.length === 2 && done.length === 2 ? done.map((b) => b.spec?.deploymentID ?? '') : undefined;
  });
  try {
    return await Promise.race([ready, fleet.exited]);
  } catch (err) {
    const bundle = await east.kube
      .get<{ status?: unknown }>(`/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/bundles/${BUNDLE}`)
      .catch((e: Error) => ({ status: e.message }));
    const states = (await bundleDeployments()).map(
      (b) => `${b.metadata.name}: ${JSON.stringify(b.status?.display)}`,
    );
    throw new Error(
      [
        (err as Error).message,
        JSON.stringify(bundle.status),
        ...states,
        fleet.log('agent-west').slice(-3000),
      ].join('\n'),
    );
  }
}

async function record(cluster: Cluster) {
  const cm = await cluster.kube.get<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/${RECORD_CONFIGMAP}`,
  );
  return decodeRecord(cm.data, cm.binaryData);
}

/** Helm's release revisions on a cluster, from its release Secrets (Helm 4 SDK storage, as Fleet's agent uses). */
async function helmRevisions(cluster: Cluster): Promise<number[]> {
  const secrets = await cluster.kube.get<List<{ metadata: { labels?: Record<string, string> } }>>(
    `/api/v1/namespaces/${NAMESPACE}/secrets?labelSelector=owner%3Dhelm,name%3D${RELEASE}`,
  );
  return secrets.items.map((s) => Number(s.metadata.labels?.version)).sort();
}

const istioJobPods = async (cluster: Cluster) =>
  (
    await cluster.kube.get<
      List<{
        metadata: { name: string };
        status?: { phase?: string; containerStatuses?: { containerID?: string }[] };
      }>
    >(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${RELEASE}-install`)
  ).items;

test('fleet apply: the Bundle reaches both clusters, and each installs Istio through the chart Job', async () => {
  const started = Date.now();
  await apply();
  deployed = await bothReady('the Bundle to be Ready on east and west');
  say(`fleet apply to both clusters Ready: ${Math.round((Date.now() - started) / 1000)} s`);
  for (const [name, cluster, ambient] of [
    ['east', east, false],
    ['west', west, true],
  ] as const) {
    const rec = await record(cluster);
    expect([name, rec?.current.outcome, rec?.current.istioVersion]).toEqual([name, 'succeeded', '1.31.0']);
    // The overlay file reached both; the group's values only their own group.
    expect(rec?.spec).toContain('internal-ingressgateway');
    expect([name, rec?.spec?.includes('ISTIO_META_DNS_CAPTURE')]).toEqual([name, !ambient]);
    expect([name, /profile: ambient/.test(rec?.spec ?? '')]).toEqual([name, ambient]);
    const ran = (await istioJobPods(cluster)).filter((p) => p.status?.phase === 'Succeeded');
    // In podman mode (CI's) the Job ran as a container of the product image, as under `helm install`.
    expect([name, ran.map(ranIn)]).toEqual([name, [cluster.podRuntime.mode]]);
  }
  // On east Fleet upgraded Rancher's release (revision 1, made by helm 3 as Rancher did): the installer adopted
  // Rancher's Istio, then went up as a canary. On west it installed.
  expect(await helmRevisions(east)).toEqual([1, 2]);
  expect(await helmRevisions(west)).toEqual([1]);
  const eastRuns = (await record(east))?.history.map((e) => `${e.action} ${e.istioVersion} ${e.outcome}`);
  expect(eastRuns?.reverse()).toEqual([
    `adopt ${RANCHER_ISTIO} succeeded`,
    'upgrade-canary 1.31.0 succeeded',
  ]);
});

test("lookup under Fleet's Helm deployer sees the cluster: the dashboards Role where the namespace exists", async () => {
  const role = (c: Cluster) =>
    c.kube
      .get(`/apis/rbac.authorization.k8s.io/v1/namespaces/cattle-dashboards/roles/${RELEASE}-installer`)
      .then(
        () => true,
        () => false,
      );
  // east has cattle-dashboards: lookup found it in the install Fleet's agent ran. west has none: nothing to find.
  expect({ east: await role(east), west: await role(west) }).toEqual({ east: true, west: false });
  // Kiali's selector comes from lookup of the running Deployment: on east Rancher's (`kiali`), which a Deployment
  // cannot change, so a lookup that returned nothing would have failed the upgrade with "field is immutable"; on west
  // none ran, so the release's name.
  const instance = async (c: Cluster) =>
    (
      await c.kube.get<{ spec: { selector: { matchLabels: Record<string, string> } } }>(
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/kiali`,
      )
    ).spec.selector.matchLabels['app.kubernetes.io/instance'];
  expect({ east: await instance(east), west: await instance(west) }).toEqual({
    east: 'kiali',
    west: RELEASE,
  });
});

test('a values change in Git upgrades both clusters: a new Helm revision, the Job ran again, Kiali keeps its key', async () => {
  const signingKey = async (c: Cluster) =>
    (await c.kube.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NAMESPACE}/secrets/kiali`))
      .data['signing-key'];
  const keysBefore = [await signingKey(east), await signingKey(west)];
  const revisionsBefore = { east: await helmRevisions(east), west: await helmRevisions(west) };
  const values = join(repo, 'values.yaml');
  writeFileSync(values, `${readFileSync(values, 'utf8')}meshConfig:\n  accessLogFile: /dev/stdout\n`);
  await apply();
  deployed = await bothReady('the changed Bundle to be Ready on east and west', deployed);
  for (const [name, cluster] of [
    ['east', east],
    ['west', west],
  ] as const) {
    // A new Helm revision (Fleet's agent keeps only the last few, so compare the newest).
    expect([name, (await helmRevisions(cluster)).at(-1)]).toEqual([
      name,
      (revisionsBefore[name].at(-1) ?? 0) + 1,
    ]);
    const rec = await record(cluster);
    expect([name, rec?.current.outcome]).toEqual([name, 'succeeded']);
    expect(rec?.spec).toContain('accessLogFile: /dev/stdout');
    // The mesh config of the revision the record names (east runs the canary `1-31-0` since its takeover).
    const revision = rec?.current.revision ?? 'default';
    const mesh = await cluster.kube.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NAMESPACE}/configmaps/${revision === 'default' ? 'istio' : `istio-${revision}`}`,
    );
    expect(mesh.data.mesh).toContain('accessLogFile: /dev/stdout');
  }
  // Kiali's session key is kept through lookup of its own Secret: had lookup returned nothing, the upgrade would
  // have made a new one (and logged every Kiali user out).
  expect([await signingKey(east), await signingKey(west)]).toEqual(keysBefore);
});

/** The Fleet `Cluster`'s last check-in by its agent (epoch ms). */
async function lastSeen(name: 'east' | 'west'): Promise<number> {
  const c = await east.kube.get<{ status?: { agent?: { lastSeen?: string } } }>(
    `/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/clusters/${fleet.clusters[name]?.name}`,
  );
  return Date.parse(c.status?.agent?.lastSeen ?? '');
}

test("a gateway deleted by hand: Fleet stays quiet (not its object), the installer's next run, from a Git change, repairs it", async () => {
  const gateway = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/internal-ingressgateway`;
  const exists = () =>
    east.kube.get(gateway).then(
      () => true,
      () => false,
    );
  expect(await exists()).toBe(true);
  await east.kube.delete(gateway);
  const deletedAt = Date.now();
  // istioctl made the gateway, not Helm: it is in no Helm manifest, so Fleet's agent neither reports it as drift
  // nor puts it back. Read after the agent has checked in twice since the deletion.
  await eventually('two check-ins of the east agent after the deletion', 120_000, async () =>
    (await lastSeen('east')) > deletedAt + 15_000 ? true : undefined,
  );
  const bd = (await bundleDeployments()).find((b) => b.metadata.namespace === fleet.clusters.east?.namespace);
  expect(bd?.status?.display?.state).toBe('Ready');
  expect(await exists()).toBe(false);
  // The Git change docs/fleet.md names to re-run the chart's Job (as to continue a stepped upgrade): a value whose
  // only effect is on the Job. Its run finds the gateway missing and puts it back.
  const values = join(repo, 'values.yaml');
  writeFileSync(
    values,
    readFileSync(values, 'utf8').replace(
      'pathSeconds: 600',
      'pathSeconds: 600\n  debug:\n    secondsSleep: 1',
    ),
  );
  await apply();
  deployed = await bothReady('the re-run to be Ready on east and west', deployed);
  expect(await exists()).toBe(true);
  expect((await record(east))?.current.outcome).toBe('succeeded');
});

test("values the chart's schema refuses: the canary reports the chart's message, the rollout holds the rest back", async () => {
  const revisionsBefore = [await helmRevisions(east), await helmRevisions(west)];
  const westBefore = (await bundleDeployments()).find(
    (b) => b.metadata.namespace === fleet.clusters.west?.namespace,
  );
  const values = join(repo, 'values.yaml');
  writeFileSync(
    values,
    readFileSync(values, 'utf8').replace('pathSeconds: 600', 'pathSeconds: 600\n    readinesSeconds: 60'),
  );
  await apply();
  // east is the canary partition: Helm (in Fleet's agent) refuses the values before anything is applied, and Fleet
  // shows Helm's message, which names the key.
  const message = await eventually('the canary to report the schema error', 5 * 60_000, async () => {
    const bd = (await bundleDeployments()).find(
      (b) => b.metadata.namespace === fleet.clusters.east?.namespace,
    );
    const deployed = bd?.status?.conditions?.find((c) => c.type === 'Deployed');
    const m = deployed?.status === 'False' ? (deployed.message ?? '') : '';
    // Fleet's agent writes the condition first and the display state in a later status update (CI once read the
    // message with the state still `Ready`), so both are waited for.
    const state = bd?.status?.display?.state;
    return m.includes('readinesSeconds') && state === 'ErrApplied' ? { message: m, state } : undefined;
  });
  say(`a refused value, as Fleet shows it: ${JSON.stringify(message)}`);
  expect(message.state).toBe('ErrApplied');
  expect(message.message).toMatch(/values don't meet the specifications of the schema/);
  // The partition after the canary waits for it: west keeps the deployment it had, Ready, and neither cluster ran a
  // Job or made a Helm revision. Read after east's agent has checked in twice more.
  const refusedAt = Date.now();
  await eventually('two check-ins of the east agent after the refusal', 120_000, async () =>
    (await lastSeen('east')) > refusedAt + 15_000 ? true : undefined,
  );
  const westAfter = (await bundleDeployments()).find(
    (b) => b.metadata.namespace === fleet.clusters.west?.namespace,
  );
  expect(westAfter?.spec?.deploymentID).toBe(westBefore?.spec?.deploymentID);
  expect(westAfter?.status?.display?.state).toBe('Ready');
  expect([await helmRevisions(east), await helmRevisions(west)]).toEqual(revisionsBefore);
});
