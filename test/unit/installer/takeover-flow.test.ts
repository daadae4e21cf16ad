// The takeover and the stepped upgrade through `install`, with a fake API server and a fake istioctl that makes and
// removes revisions (our own logic only; test/e2e/rancher-takeover.test.ts does it with real helm, istioctl, istiod).
import { gzipSync } from 'node:zlib';
import { load } from 'js-yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { PreconditionError } from '../../../src/errors.js';
import type { InstallerDeps } from '../../../src/installer/deps.js';
import { install } from '../../../src/installer/actions/install.js';
import { makePlan, planReport } from '../../../src/installer/actions/plan.js';
import { readStatus } from '../../../src/installer/actions/status.js';
import type { InstallRequest } from '../../../src/installer/actions/request.js';
import type { ProcessRunner } from '../../../src/installer/istioctl/runner.js';
import { decodeRecord, RECORD_CONFIGMAP } from '../../../src/installer/model/record.js';
import type { ResourceRef } from '../../../src/installer/model/objects.js';
import { FakeKube, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';
import { installRequest, answering } from '../../helpers/install-request.js';

const NS = 'istio-system';

/** Rancher's values after the user set the chart's version: every image pinned to it, as Rancher's file pins them. */
const istioOperator = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: {
    tag: '1.31.0',
    components: { pilot: { enabled: true, k8s: {} } },
    values: {
      pilot: { image: 'rancher/mirrored-istio-pilot:1.31.0-distroless' },
      // What podSecurity.seccompProfile writes for a 1.29+ tag (src/overlay/pod-security.ts).
      global: { proxy: { seccompProfile: { type: 'RuntimeDefault' } } },
    },
  },
};

const request = (extra: Partial<InstallRequest> = {}): InstallRequest =>
  installRequest(istioOperator, { release: 'rancher-istio', ...extra });

const tagWebhook = (revision: string, tag = 'default') => {
  const webhook = injectorWebhook(revision);
  return {
    ...webhook,
    metadata: {
      name: `istio-revision-tag-${tag}`,
      labels: { 'istio.io/rev': revision, 'istio.io/tag': tag },
    },
  };
};

/** Rancher's install as its chart leaves it: istioctl-made istiod, Rancher's ConfigMap and finished Job, no record. */
function rancherCluster(version: string): FakeKube {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: NS } });
  kube.deployments.push(istiodDeployment({ version }));
  kube.services.push({ metadata: { name: 'istiod', namespace: NS } });
  kube.mutating.push(injectorWebhook(), tagWebhook('default'));
  kube.configMaps.set(`${NS}/istio-installer-base`, {
    metadata: {
      name: 'istio-installer-base',
      namespace: NS,
      annotations: { 'meta.helm.sh/release-name': 'rancher-istio' },
    },
  });
  kube.objects.set('jobs', [
    {
      metadata: { name: 'istioctl-installer', namespace: NS },
      status: { conditions: [{ type: 'Failed', status: 'True' }] },
    },
  ]);
  kube.objects.set('istiooperators', []);
  kube.objects.set('secrets', [helmSecret('rancher-istio', 1, '107.1.0+up1.25.0')]);
  return kube;
}

/** The Secret Helm keeps per release revision: gzipped JSON, base64 by Helm, base64 again by the Secret's data. */
function helmSecret(release: string, revision: number, chartVersion: string) {
  const json = JSON.stringify({
    name: release,
    chart: { metadata: { name: 'rancher-istio', version: chartVersion } },
  });
  const helmEncoded = gzipSync(json).toString('base64');
  return {
    metadata: {
      name: `sh.helm.release.v1.${release}.v${revision}`,
      namespace: NS,
      labels: { owner: 'helm', name: release, version: String(revision), status: 'deployed' },
    },
    data: { release: Buffer.from(helmEncoded).toString('base64') },
  };
}

/** A fake istioctl on the fake cluster: `install` makes the spec's revision, `tag set` moves a tag, `uninstall` removes. */
function deps(kube: FakeKube, available: string[]) {
  const files = new Map<string, string>();
  const installs: string[] = [];
  const images: string[] = [];
  /** Per install: the proxies' seccomp profile the spec asks for, or `none` (istioctl before 1.29 refuses the key). */
  const proxySeccomp: string[] = [];
  const tags: string[] = [];
  const log: string[] = [];
  let tick = 0;
  const runner: ProcessRunner = answering({
    async run(_file, args) {
      if (args[0] === 'install') {
        const spec = (
          load(files.get(args[args.indexOf('-f') + 1] ?? '') ?? '') as {
            spec: {
              tag: string;
              revision?: string;
              values: {
                pilot: { image: string };
                global?: { proxy?: { seccompProfile?: { type: string } } };
              };
            };
          }
        ).spec;
        images.push(spec.values.pilot.image);
        proxySeccomp.push(`${spec.tag} ${spec.values.global?.proxy?.seccompProfile?.type ?? 'none'}`);
        const revision = spec.revision || 'default';
        installs.push(`${spec.tag} as ${revision}`);
        kube.deployments = kube.deployments.filter((d) => d.metadata?.name !== `istiod-${revision}`);
        kube.deployments.push(istiodDeployment({ version: spec.tag, revision }));
        kube.services.push({ metadata: { name: `istiod-${revision}`, namespace: NS } });
        kube.mutating.push(injectorWebhook(revision));
      }
      if (args[0] === 'tag' && args[1] === 'set') {
        const revision = args[4] ?? '';
        const tag = args[2] ?? '';
        tags.push(`${tag} -> ${revision}`);
        kube.mutating = [
          ...kube.mutating.filter((w) => w.metadata?.name !== `istio-revision-tag-${tag}`),
          tagWebhook(revision, tag),
        ];
      }
      if (args[0] === 'uninstall') {
        const revision = args[3] ?? '';
        const name = revision === 'default' ? 'istiod' : `istiod-${revision}`;
        kube.deployments = kube.deployments.filter((d) => d.metadata?.name !== name);
        kube.mutating = kube.mutating.filter(
          (w) => w.metadata?.labels?.['istio.io/rev'] !== revision || w.metadata?.labels?.['istio.io/tag'],
        );
      }
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  });
  const d: InstallerDeps = {
    kube,
    runner,
    log: {
      info: (m) => log.push(m),
      warn: (m) => log.push(`warn: ${m}`),
      error: (m) => log.push(`error: ${m}`),
    },
    now: () => new Date(Date.UTC(2026, 11, 3) + tick++ * 1000),
    sleep: async () => undefined,
    env: {},
    istioctlFor: async () => '/fake/istioctl',
    istioctlVersions: async () => available,
    platform: { os: 'linux', arch: 'amd64' },
    writeTempFile: async (name, content) => {
      const path = `/tmp/fake/${name}-${files.size}`;
      files.set(path, content);
      return path;
    },
    holder: 'process:this-host/2',
    hostname: 'this-host',
    isProcessAlive: () => false,
    lockSeconds: 60,
  };
  return { deps: d, installs, images, proxySeccomp, tags, log };
}

const history = (kube: FakeKube) => {
  const map = kube.configMaps.get(`${NS}/${RECORD_CONFIGMAP}`);
  return (decodeRecord(map?.data, map?.binaryData)?.history ?? [])
    .map((e) => `${e.action} ${e.istioVersion} ${e.revision} ${e.outcome}`)
    .reverse();
};

const ALL = ['1.25.2', '1.27.6', '1.29.3', '1.30.4', '1.31.0'];

/** A workload pod of Deployment apps/web with a sidecar of `version`, injected by `revision` (Istio's annotation). */
const webPod = (version: string, revision = 'default'): V1Pod => ({
  metadata: {
    name: 'web-7d9f-abcde',
    namespace: 'apps',
    labels: { 'security.istio.io/tlsMode': 'istio', app: 'web' },
    annotations: { 'istio.io/rev': revision },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u' }],
  },
  spec: {
    containers: [
      { name: 'web', image: 'nginx' },
      { name: 'istio-proxy', image: `rancher/mirrored-istio-proxyv2:${version}-distroless` },
    ],
  },
  status: { phase: 'Running' },
});

test('plan shows the takeover and the whole path, and changes nothing', async () => {
  const kube = rancherCluster('1.23.2');
  const { deps: d } = deps(kube, ALL);
  const decided = await makePlan(request(), d);
  expect(planReport(decided.plan, decided.state, decided.notes).slice(0, 10)).toEqual([
    "  takeover: adopted Istio 1.23.2 (revision default) installed by Rancher's rancher-istio chart 107.1.0+up1.25.0 (Helm release rancher-istio, revision 1), applied by istioctl; gateways: none",
    "  leftover: Job istio-system/istioctl-installer (Rancher's installer hook Job, left behind (it ran Rancher's istioctl)): delete",
    "  leftover: ConfigMap istio-system/istio-installer-base (Rancher's installer input, which no release owns any more): delete",
    '  path: 1.23.2 -> 1.25.2 -> 1.27.6 -> 1.29.3 -> 1.31.0 (4 canary hops of at most two minors)',
    ...['1.25.2', '1.27.6', '1.29.3', '1.31.0'].map(
      (h) =>
        `  hop ${h}: istioctl ${h}; images rancher/mirrored-istio-pilot:${h}-distroless, registry.istio.io/release/proxyv2:${h}`,
    ),
    'plan: upgrade-canary',
    '  why: install 1.25.2 as revision 1-25 next to default (1.23.2), then move tags default',
  ]);
  expect(kube.writes).toEqual([]);
});

test("Rancher's 1.23 to 1.31: adopt, leftovers deleted, four canary hops with each hop's images, the tags following each hop, old revisions removed", async () => {
  const kube = rancherCluster('1.23.2');
  const { deps: d, installs, images, proxySeccomp, tags, log } = deps(kube, ALL);
  const result = await install(request({ revisionTags: ['prod-stable'] }), d);
  // podSecurity: the hops whose istioctl refuses the proxies' seccomp profile go without it.
  expect(proxySeccomp).toEqual([
    '1.25.2 none',
    '1.27.6 none',
    '1.29.3 RuntimeDefault',
    '1.31.0 RuntimeDefault',
  ]);
  expect(tags).toEqual(
    ['1-25', '1-27', '1-29', '1-31-0'].flatMap((r) => [`default -> ${r}`, `prod-stable -> ${r}`]),
  );
  expect(images).toEqual([
    'rancher/mirrored-istio-pilot:1.25.2-distroless',
    'rancher/mirrored-istio-pilot:1.27.6-distroless',
    'rancher/mirrored-istio-pilot:1.29.3-distroless',
    'rancher/mirrored-istio-pilot:1.31.0-distroless',
  ]);
  expect(installs).toEqual(['1.25.2 as 1-25', '1.27.6 as 1-27', '1.29.3 as 1-29', '1.31.0 as 1-31-0']);
  expect(history(kube)).toEqual([
    'adopt 1.23.2 default succeeded',
    'upgrade-canary 1.25.2 1-25 succeeded',
    'upgrade-canary 1.27.6 1-27 succeeded',
    'upgrade-canary 1.29.3 1-29 succeeded',
    'upgrade-canary 1.31.0 1-31-0 succeeded',
  ]);
  expect(kube.deployments.map((dep) => dep.metadata?.name)).toEqual(['istiod-1-31-0']);
  expect(kube.writes).toContain('delete Job istio-system/istioctl-installer');
  expect(kube.writes).toContain('delete ConfigMap istio-system/istio-installer-base');
  expect(log).toContain(
    "warn: deleting Job istio-system/istioctl-installer: Rancher's installer hook Job, left behind (it ran Rancher's istioctl)",
  );
  expect(result.summary).toMatch(/revision 1-29 removed.*\(\d+\.\ds\)$/);

  // The same values again: nothing to do (not an in-place install of a second, unrevisioned control plane).
  const again = deps(kube, ALL);
  expect((await install(request({ revisionTags: ['prod-stable'] }), again.deps)).summary).toMatch(
    /^nothing to do: Istio 1\.31\.0 \(revision 1-31-0\)/,
  );
  expect(again.installs).toEqual([]);
});

test('installer.timeouts.pathSeconds: each run starts no hop it would not finish in time, ends successfully, and the next goes on', async () => {
  const PATH = ['1.25.2', '1.27.6', '1.29.3', '1.31.0'];
  const kube = rancherCluster('1.23.2');
  // The fake clock ticks a second per reading: a hop takes some seconds, so 30 leaves room for one or two per run.
  const summaries: string[] = [];
  const installs: string[] = [];
  for (let run = 0; run < 6; run++) {
    const d = deps(kube, ALL);
    summaries.push((await install(request({ pathSeconds: 30 }), d.deps)).summary);
    installs.push(...d.installs);
    const report = await readStatus(NS, d.deps);
    if (!summaries.at(-1)?.includes('paused')) {
      expect(report.unfinishedPath).toBeNull();
      break;
    }
    expect(report.unfinishedPath).toMatch(
      /^a stepped upgrade stands at transit revision 1-2\d \(Istio 1\.2\d\.\d\), \d hops? to go \([\d. >-]*1\.31\.0\): run helm upgrade/,
    );
    // What is left is exactly the hops the later runs make.
    expect(report.pathAhead).toEqual(PATH.slice(installs.length));
  }
  // The same hops as one long run makes, spread over several runs.
  expect(installs).toEqual(['1.25.2 as 1-25', '1.27.6 as 1-27', '1.29.3 as 1-29', '1.31.0 as 1-31-0']);
  expect(installs.map((i) => i.split(' ')[0])).toEqual(PATH);
  expect(summaries.length).toBeGreaterThan(1);
  expect(summaries[0]).toMatch(
    /; paused at Istio 1\.2\d\.\d: \d hops? to go \(.*1\.31\.0\), not started within installer\.timeouts\.pathSeconds \(30s\); run helm upgrade \(or istio-installer install\) again to go on/,
  );
  expect(history(kube).at(-1)).toBe('upgrade-canary 1.31.0 1-31-0 succeeded');
});

test('proxies left two minors behind stop the path with exit 3; each re-run after the restart resumes at the next hop', async () => {
  const kube = rancherCluster('1.23.2');
  kube.pods.push(webPod('1.23.2'));
  const { deps: d, installs } = deps(kube, ALL);
  const stopped = install(request(), d);
  await expect(stopped).rejects.toThrow(PreconditionError);
  await expect(stopped).rejects.toThrow(
    '1 pod(s) in namespace(s) apps run proxies more than 1 minor behind Istio 1.25.2, the active revision, before the hop to 1.27.6: apps/web-7d9f-abcde (revision default, proxy 1.23.2)',
  );
  expect(installs).toEqual(['1.25.2 as 1-25']);
  // The user restarts the workload (kubectl rollout restart), which the default tag injects with the active
  // version, and runs again: each run goes one hop further, resuming where the cluster is.
  const runs: string[][] = [];
  for (const active of ['1.25.2', '1.27.6', '1.29.3']) {
    kube.pods = [webPod(active)];
    const again = deps(kube, ALL);
    await install(request(), again.deps).catch((error: unknown) => {
      if (!(error instanceof PreconditionError)) throw error;
    });
    runs.push(again.installs);
  }
  expect(runs).toEqual([['1.27.6 as 1-27'], ['1.29.3 as 1-29'], ['1.31.0 as 1-31-0']]);
  expect(history(kube)).toEqual([
    'adopt 1.23.2 default succeeded',
    'upgrade-canary 1.25.2 1-25 succeeded',
    'upgrade-canary 1.27.6 1-27 succeeded',
    'upgrade-canary 1.29.3 1-29 succeeded',
    'upgrade-canary 1.31.0 1-31-0 succeeded',
  ]);
});

test("a re-run without the restarts (as Fleet's agent retries a failed release by itself) stops again before its first hop, installing nothing", async () => {
  const kube = rancherCluster('1.23.2');
  kube.pods.push(webPod('1.23.2'));
  await install(request(), deps(kube, ALL).deps).catch(() => undefined);
  expect(history(kube)).toEqual(['adopt 1.23.2 default succeeded', 'upgrade-canary 1.25.2 1-25 succeeded']);
  // The workloads still run 1.23.2: each run stops where the last one did, for as long as they do.
  for (let run = 0; run < 2; run++) {
    const again = deps(kube, ALL);
    const stopped = install(request(), again.deps);
    await expect(stopped).rejects.toThrow(PreconditionError);
    await expect(stopped).rejects.toThrow(
      '1 pod(s) in namespace(s) apps run proxies more than 1 minor behind Istio 1.25.2, the active revision, before the hop to 1.27.6',
    );
    expect(again.installs).toEqual([]);
  }
  expect(history(kube)).toEqual(['adopt 1.23.2 default succeeded', 'upgrade-canary 1.25.2 1-25 succeeded']);
  // The last hop too: with the workloads on 1.27.6 and the cluster at 1.29.3, a run without their restart stops
  // before 1.31.0 (one hop left, continuing the path on record).
  kube.pods = [webPod('1.25.2')];
  await install(request(), deps(kube, ALL).deps).catch(() => undefined);
  kube.pods = [webPod('1.27.6')];
  await install(request(), deps(kube, ALL).deps).catch(() => undefined);
  expect(history(kube).at(-1)).toBe('upgrade-canary 1.29.3 1-29 succeeded');
  const last = deps(kube, ALL);
  await expect(install(request(), last.deps)).rejects.toThrow('before the hop to 1.31.0');
  expect(last.installs).toEqual([]);
  kube.pods = [webPod('1.29.3')];
  await install(request(), deps(kube, ALL).deps);
  expect(history(kube).at(-1)).toBe('upgrade-canary 1.31.0 1-31-0 succeeded');
});

test('with upgrade.updateWorkloads the installer restarts the workloads between hops', async () => {
  class RestartingKube extends FakeKube {
    override async mergePatchObject(ref: ResourceRef, namespace: string, name: string, patch: object) {
      await super.mergePatchObject(ref, namespace, name, patch);
      // The Deployment's new pods are injected by the revision the default tag points at.
      const tag = this.mutating.find((w) => w.metadata?.name === 'istio-revision-tag-default');
      const revision = tag?.metadata?.labels?.['istio.io/rev'] ?? '';
      this.pods = [webPod(revision.replace(/-/g, '.'), revision)];
    }
  }
  const kube = Object.assign(new RestartingKube(), rancherCluster('1.23.2'));
  kube.pods.push(webPod('1.23.2'));
  const { deps: d, installs, log } = deps(kube, ALL);
  await install(request({ updateWorkloads: true }), d);
  expect(installs).toHaveLength(4);
  // Each hop restarts the workloads its predecessor injected before removing that revision: no proxy is ever left
  // without its istiod, and the skew gate then finds nothing behind.
  expect(kube.writes.filter((w) => w.startsWith('patch Deployment apps/web'))).toHaveLength(4);
  expect(log.filter((l) => /^- (restart|remove old revision)/.test(l))).toEqual(
    ['default', '1-25', '1-27', '1-29'].flatMap((r) => [
      `- restart 1 workload(s) off revision ${r}`,
      `- remove old revision ${r}`,
    ]),
  );
  expect(kube.pods.map((p) => p.metadata?.annotations?.['istio.io/rev'])).toEqual(['1-31-0']);
});

test('without updateWorkloads, a revision whose injector made running pods is kept, naming them', async () => {
  const kube = rancherCluster('1.29.6');
  kube.pods.push(webPod('1.29.6'));
  const { deps: d, log } = deps(kube, ALL);
  const result = await install(request(), d);
  expect(log).toContain('warn: revision default is still used by 1: pod apps/web-7d9f-abcde');
  expect(result.summary).toContain('revision default kept (used by 1)');
  expect(kube.deployments.map((dep) => dep.metadata?.name).sort()).toEqual(['istiod', 'istiod-1-31-0']);
});

test('a missing hop istioctl, an operator-managed install, a live Rancher release: exit 3 naming them, nothing written', async () => {
  const missing = rancherCluster('1.23.2');
  const first = await install(request(), deps(missing, ['1.31.0']).deps).catch((e: unknown) => e);
  expect(first).toBeInstanceOf(PreconditionError);
  expect((first as PreconditionError).message).toBe(
    'the path 1.23.2 -> 1.25 -> 1.27 -> 1.29 -> 1.31.0 needs istioctl 1.25, 1.27, 1.29, which is neither bundled, on PATH nor in the release mirror',
  );
  // One command prepares every hop (the same path: each hop named), and the archives one by one are the alternative.
  expect((first as PreconditionError).hint).toBe(
    'on a connected machine run "istio-installer prepare-site --dir DIR --chart CHART -f VALUES --from 1.23.2 --kube 1.32 --istio-version 1.25.<patch> --istio-version 1.27.<patch> --istio-version 1.29.<patch> --istio-version 1.31.0" and serve DIR/mirror as the release mirror (installer.releaseMirror.extraReleases), or add each with "istio-installer mirror add --dir DIR istioctl-1.25.<patch>-linux-amd64.tar.gz" and "istio-installer mirror add --dir DIR istioctl-1.27.<patch>-linux-amd64.tar.gz" and "istio-installer mirror add --dir DIR istioctl-1.29.<patch>-linux-amd64.tar.gz" (from https://github.com/istio/istio/releases/); then run again',
  );
  expect(missing.writes).toEqual([]);

  const operated = rancherCluster('1.23.2');
  operated.deployments.push({
    metadata: { name: 'istio-operator', namespace: 'istio-operator', labels: { name: 'istio-operator' } },
  });
  await expect(install(request(), deps(operated, ALL).deps)).rejects.toThrow(
    /Istio's in-cluster operator runs \(Deployment istio-operator\/istio-operator\)/,
  );
  expect(operated.writes).toEqual([]);

  // `istio-installer install` (or a chart release of another name) next to Rancher's live release.
  const beside = rancherCluster('1.23.2');
  await expect(install(request({ release: 'istio' }), deps(beside, ALL).deps)).rejects.toThrow(
    "Rancher's release rancher-istio is still installed in istio-system; its next upgrade would run Rancher's installer over this one",
  );
  expect(beside.writes).toEqual([]);
});
