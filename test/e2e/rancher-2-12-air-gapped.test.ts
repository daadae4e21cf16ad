// Rancher 2.12's path on an air-gapped site, with the hop istioctls only in the chart's release mirror: a Kubernetes
// 1.32 rig as Rancher 2.12 leaves it (chart 107.1.0, real istiod 1.25.0), then `helm upgrade rancher-istio <this
// chart>` with the user's values, installer.releaseMirror on, and an installer image that bundles istioctl 1.31.0 only
// (a variant of the product image). The mirror Deployment runs for real (its own pod IP, readiness from its probe)
// and serves the site's hop archives from a hostPath volume (extraReleases); the Job reaches it by the chart's URL.
// First the site forgot 1.29.6: the Job refuses before it changes anything and names the archive and the command; then
// `istio-installer prepare-site` fills the site's mirror from Istio-release-layout archives of the rig's real
// istioctls and the next `helm upgrade` makes every hop with the istioctl it downloaded from the mirror.
import { execa } from 'execa';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Cluster } from '../cluster/rig.js';
import { toolPaths, type RigIstioVersion } from '../cluster/tools.js';
import { CHART, NAMESPACE } from '../chart/render.js';
import { variantTag } from '../cluster/image.js';
import { packageVersion } from '../container/local-image.js';
import { imageWithOnly } from '../container/variant-image.js';
import { startReleaseServer, type ReleaseServer } from '../mirror/release-server.js';
import { BIN, valuesFile } from './helpers.js';
import { RANCHER_2_12, RANCHER_VALUES } from './rancher-shaped.js';
import {
  Monitor,
  history,
  hopsInLogs,
  istiods,
  jobLogs,
  releaseStatus,
  startRancherRig,
  upgradeOntoChart,
  userResources,
  workloadsEndOn,
  type RancherRig,
} from './rancher-path.js';

const START = RANCHER_2_12.istio;
/** The path on Kubernetes 1.32 (decide/path.ts): the last hop is the newest Istio at hand, which the image bundles. */
const HOPS = ['1.27.9', '1.29.6', '1.31.0'];
const TARGET = '1.31.0';
/** The hops whose istioctl the image lacks: only the mirror's extra releases hold them. */
const FROM_MIRROR = ['1.27.9', '1.29.6'];
const ISTIO: RigIstioVersion[] = ['1.25.0', '1.27.9', '1.29.6', '1.31.0'];

let rig: RancherRig | undefined;
let cluster: Cluster;
let work: string;
let created: Record<string, string> = {};
let site: string;
let releases: ReleaseServer;
let imageTag = '';

/** `<root>/<v>/istioctl-<v>-linux-amd64.tar.gz` and its `.sha256`, as Istio publishes them, of the rig's real istioctl. */
async function realReleases(root: string, versions: readonly RigIstioVersion[]): Promise<void> {
  for (const version of versions) {
    const dir = join(root, version);
    const staging = join(root, `staging-${version}`);
    mkdirSync(dir, { recursive: true });
    mkdirSync(staging, { recursive: true });
    copyFileSync(toolPaths().istioctl[version], join(staging, 'istioctl'));
    const name = `istioctl-${version}-linux-amd64.tar.gz`;
    await execa('tar', ['-czf', join(dir, name), '-C', staging, 'istioctl']);
    const sum = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
    writeFileSync(join(dir, `${name}.sha256`), `${sum}  ${name}\n`);
  }
}

const installer = () => {
  const volume = { hostPath: { path: site, type: 'Directory' } };
  return `installer: ${JSON.stringify({
    image: { tag: imageTag },
    backoffLimit: 0,
    timeouts: { readinessSeconds: 180, pathSeconds: 0 },
    releaseMirror: { enabled: true, extraReleases: { volume, subPath: 'mirror' } },
  })}`;
};

beforeAll(async () => {
  rig = await startRancherRig('rancher-2-12-air-gapped', RANCHER_2_12, ISTIO, 50 * 60_000);
  ({ cluster, work, created } = rig);
  // The site's installer image: istioctl 1.31.0 bundled, no other istioctl and no other release in its own mirror. In
  // process mode the rig stands in for a variant by its tag (process-kubelet.ts imageFor).
  imageTag =
    cluster.podRuntime.mode === 'podman'
      ? await imageWithOnly([TARGET])
      : variantTag(packageVersion(), [TARGET], 'hostprocess');
  console.error(`rancher-2-12-air-gapped: ${cluster.podRuntime.reason}; installer image tag ${imageTag}`);
  // Istio's release downloads (GitHub's layout) on loopback, made of the rig's istioctl builds.
  await realReleases(join(work, 'releases'), ['1.27.9', '1.29.6', '1.31.0']);
  releases = await startReleaseServer(join(work, 'releases'));
  site = join(work, 'site');
  mkdirSync(join(site, 'mirror'), { recursive: true });
  // The Podman container runs as uid 65532: the site's mirror must be readable by it, as on an NFS export.
  chmodSync(site, 0o755);
}, 20 * 60_000);

afterAll(async () => {
  await releases?.close();
  await rig?.stop();
});

test(
  `a site mirror without 1.29.6: the Job exits 3 before anything changes, naming the archive and the command`,
  async () => {
    // What a site that added only one hop's archive has.
    const add = await execa(
      process.execPath,
      [
        BIN,
        'mirror',
        'add',
        '--dir',
        join(site, 'mirror'),
        join(work, 'releases', '1.27.9', 'istioctl-1.27.9-linux-amd64.tar.gz'),
      ],
      { reject: false },
    );
    expect(`${add.exitCode} ${add.stderr}`).toMatch(/^0 /);
    const before = await istiods(cluster);
    const r = await upgradeOntoChart(cluster, work, RANCHER_2_12, installer());
    const logs = await jobLogs(cluster);
    console.error(`rancher-2-12-air-gapped: incomplete mirror: helm upgrade exit ${r.exitCode}\n${logs}`);
    expect(r.exitCode).toBe(1);
    // The mirror ran for real: its own pod IP, Ready by its probe, in podman mode a container of the variant image.
    const mirror = await cluster.kube.get<{
      items: {
        status?: {
          podIP?: string;
          conditions?: { type: string; status: string }[];
          containerStatuses?: { image: string; containerID?: string }[];
        };
      }[];
    }>(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dmirror`);
    expect(
      mirror.items.map((p) => ({
        ip: p.status?.podIP,
        ready: p.status?.conditions?.find((c) => c.type === 'Ready')?.status,
        image: p.status?.containerStatuses?.[0]?.image,
        container: p.status?.containerStatuses?.[0]?.containerID ?? 'host process',
      })),
    ).toEqual([
      {
        ip: expect.stringMatching(/^10\.244\.2\d\d\./),
        ready: 'True',
        image: expect.stringMatching(new RegExp(`/istio-installer:${imageTag}$`)),
        container:
          cluster.podRuntime.mode === 'podman' ? expect.stringMatching(/^podman:\/\//) : 'host process',
      },
    ]);
    const pods = await cluster.kube.get<{
      items: { status?: { containerStatuses?: { state?: { terminated?: { exitCode: number } } }[] } }[];
    }>(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3Drancher-istio-install`);
    expect(pods.items.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode)).toEqual([3]);
    // The path goes through 1.27.9, which only the chart's mirror holds: the Job read the mirror's index by its
    // in-cluster name. 1.29 is in no place it looked; one line names the archive (the patch is the site's choice) and
    // both commands that fix it.
    expect(logs).toContain(
      'refused: the path 1.25.0 -> 1.27.9 -> 1.29 -> 1.31.0 needs istioctl 1.29, which is neither bundled, on PATH nor in the release mirror',
    );
    const naming = logs
      .split('\n')
      .filter((line) => line.includes('istioctl-1.29.<patch>-linux-amd64.tar.gz'));
    expect(naming).toEqual([
      expect.stringMatching(
        /^ {2}hint: on a connected machine run "istio-installer prepare-site --dir DIR .*--from 1\.25\.0 --kube 1\.32 --istio-version 1\.27\.9 --istio-version 1\.29\.<patch> --istio-version 1\.31\.0".* or add it with "istio-installer mirror add --dir DIR istioctl-1\.29\.<patch>-linux-amd64\.tar\.gz"/,
      ),
    ]);
    // Nothing changed: no record, the same istiod, Rancher's.
    const state = await cluster.kubectl(['get', 'configmap', 'istio-installer-state', '-n', NAMESPACE]);
    expect(state.exitCode).not.toBe(0);
    // The same istiod Deployments with the same images. Readiness is not compared: under CI load a probe may fail
    // between the two reads (CI saw that once), which is the rig's kubelet, not a change by the installer.
    const specOnly = (list: typeof before) => list.map(({ ready: _ready, ...rest }) => rest);
    expect(specOnly(await istiods(cluster))).toEqual(specOnly(before));
    expect(await releaseStatus(cluster)).toBe('failed');
  },
  20 * 60_000,
);

test(
  `prepare-site fills the site's mirror; helm upgrade makes ${HOPS.join(' -> ')}, each hop's istioctl from the chart's mirror`,
  async () => {
    const prepared = await execa(
      process.execPath,
      [
        BIN,
        'prepare-site',
        '--dir',
        site,
        '--chart',
        CHART,
        '-f',
        RANCHER_VALUES,
        '-f',
        valuesFile(work, 'latest.yaml', 'tag: ""\n'),
        '--from',
        START,
        '--kube',
        '1.32',
        ...HOPS.flatMap((v) => ['--istio-version', v]),
        '--release-url',
        releases.url,
        '--helm',
        toolPaths().helm3,
      ],
      { reject: false },
    );
    expect(`${prepared.exitCode} ${prepared.stderr}`).toMatch(/^0 /);
    expect(prepared.stdout).toContain(`path: ${START} -> ${HOPS.join(' -> ')} on Kubernetes 1.32`);
    const verify = await execa(process.execPath, [BIN, 'mirror', 'verify', '--dir', join(site, 'mirror')], {
      reject: false,
    });
    expect(`${verify.exitCode} ${verify.stderr}`).toMatch(/^0 /);

    const monitor = new Monitor(cluster);
    const started = Date.now();
    const r = await upgradeOntoChart(cluster, work, RANCHER_2_12, installer());
    const seconds = Math.round((Date.now() - started) / 1000);
    await monitor.stop();
    const logs = await jobLogs(cluster);
    const { planned, installed } = hopsInLogs(logs);
    const downloads = logs
      .split('\n')
      .filter((line) =>
        /downloading istioctl from the release mirror|istioctl verified and cached/.test(line),
      );
    const mirrored = [...logs.matchAll(/using istioctl (\S+) from the (\S+)/g)].map(
      (m) => `${m[1]} from the ${m[2]}`,
    );
    const seen = monitor.seen();
    console.error(
      [
        `rancher-2-12-air-gapped: helm upgrade took ${seconds}s (exit ${r.exitCode}), image tag ${imageTag}`,
        `  istioctl of each hop: ${planned.join(', ') || 'none'}; installed revisions ${installed.join(', ')}`,
        `  istioctl not bundled: ${mirrored.join(', ') || 'none'}`,
        ...downloads.map((line) => `  ${line.trim()}`),
        `  istiod seen Ready: ${seen.istiods.join(', ')}`,
        `  record: ${(await history(cluster)).join('; ')}`,
      ].join('\n'),
    );
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);
    // Each hop the image lacks was downloaded from the chart's mirror by its in-cluster name, checked against the
    // mirror's index and cached; the target was the image's own.
    for (const v of FROM_MIRROR) {
      expect(mirrored).toContain(`${v} from the mirror`);
      expect(downloads).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            new RegExp(
              `downloading istioctl from the release mirror.*${v.replace(/\./g, '\\.')}.*http://rancher-istio-mirror\\.${NAMESPACE}\\.svc:8080/`,
            ),
          ),
          expect.stringMatching(new RegExp(`istioctl verified and cached.*${v.replace(/\./g, '\\.')}`)),
        ]),
      );
    }
    expect(mirrored.filter((m) => m.startsWith(`${TARGET} `))).toEqual([]);
    expect(planned).toEqual(HOPS.map((v) => `${v} for ${v}`));
    expect([...new Set(installed)]).toEqual(['1-27', '1-29', '1-31-0']);
    expect(await history(cluster)).toEqual([
      `adopt ${START} default succeeded`,
      'upgrade-canary 1.27.9 1-27 succeeded',
      'upgrade-canary 1.29.6 1-29 succeeded',
      'upgrade-canary 1.31.0 1-31-0 succeeded',
    ]);
    expect(monitor.samples.length).toBeGreaterThan(10);
    expect(monitor.violations()).toEqual({
      noIstiodReady: [],
      injectedFromNoLiveRevision: [],
      skewed: [],
      stranded: [],
    });
    for (const v of [START, ...HOPS])
      expect(seen.istiods.some((d) => d.endsWith(` rancher/mirrored-istio-pilot:${v}-distroless`))).toBe(
        true,
      );
    expect(await workloadsEndOn(cluster, TARGET, '1-31-0')).toHaveLength(2);
    expect(await userResources(cluster)).toEqual(created);
    expect(await releaseStatus(cluster)).toBe('deployed');
  },
  45 * 60_000,
);
