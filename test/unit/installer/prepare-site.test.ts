// `istio-installer prepare-site` as a user runs it: Istio's releases from a local HTTP server on loopback (real
// tarballs, real .sha256), a stand-in helm script for the chart's rendering, and the site directory it writes. Every
// refusal exits 3 (2 for invalid values) with the site directory as it was.
import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { prepareSite, type PrepareSiteRequest } from '../../../src/installer/actions/prepare-site.js';
import { chartImages } from '../../../src/installer/decide/site.js';
import { upgradePath } from '../../../src/installer/decide/path.js';
import { parseIstioVersion } from '../../../src/installer/model/istio-version.js';
import { mirrorIstioctlVersions, obtainIstioctl } from '../../../src/mirror/client.js';
import { startMirrorServer } from '../../../src/mirror/server.js';
import { addToMirror, readIndex } from '../../../src/mirror/store.js';
import { FakeKube, istiodDeployment } from '../../helpers/fake-kube.js';
import { runCli } from '../../helpers/run-cli.js';
import { makeTarball, tempDir } from '../../mirror/helpers.js';
import { makeReleases, startReleaseServer, type ReleaseServer } from '../../mirror/release-server.js';

const HOPS = ['1.27.9', '1.29.6', '1.31.0'];
const silent = { info: () => undefined, warn: () => undefined };

/** Rancher 2.12's values as a user exports them, with the Istio version left to the chart and a private registry. */
const RANCHER_VALUES = `tag: ""
global:
  cattle:
    systemDefaultRegistry: reg.local
  proxy:
    repository: rancher/mirrored-istio-proxyv2
    tag: ""
pilot:
  repository: rancher/mirrored-istio-pilot
  tag: ""
`;

/** What `helm template` of the chart prints, trimmed to pods: the installer Job and Kiali. */
const RENDERED = `---
kind: Job
spec:
  template:
    spec:
      initContainers:
        - image: reg.local/rancher-istio/installer:0.1.0
      containers:
        - image: reg.local/rancher-istio/installer:0.1.0
---
kind: Deployment
spec:
  template:
    spec:
      containers:
        - image: reg.local/kiali/kiali:v2.11.0
`;

let work: ReturnType<typeof tempDir>;
let releases: string;
let server: ReleaseServer;
let releaseUrl: string;
let requests: string[];
let helm: string;
let values: string;

beforeEach(async () => {
  work = tempDir('prepare-site-');
  releases = join(work.path, 'releases');
  makeReleases(releases, HOPS);
  helm = join(work.path, 'helm');
  writeFileSync(
    helm,
    `#!/bin/sh\necho "$@" > "${join(work.path, 'helm-args')}"\ncat <<'EOF'\n${RENDERED}EOF\n`,
  );
  chmodSync(helm, 0o755);
  values = join(work.path, 'rancher-values.yaml');
  writeFileSync(values, RANCHER_VALUES);
  server = await startReleaseServer(releases);
  releaseUrl = server.url;
  requests = server.requests;
});
afterEach(async () => {
  await server.close();
  work.remove();
});

const site = () => join(work.path, 'site');
const prepare = (...extra: string[]) =>
  runCli([
    'prepare-site',
    '--dir',
    site(),
    '--from',
    '1.25.0',
    '--kube',
    '1.32',
    '--chart',
    'charts/rancher-istio',
    '-f',
    values,
    '--helm',
    helm,
    '--release-url',
    releaseUrl,
    ...extra,
  ]);
/** What a refusal must leave: the site directory as it was (absent here), no staging directory. */
const siteUntouched = () =>
  expect(existsSync(site()) ? readdirSync(site()).filter((e) => e !== '.gitkeep') : []).toEqual([]);

test("writes every hop's verified istioctl archive as a mirror and one list of every image; a re-run fetches nothing", async () => {
  const run = await prepare();
  expect(run).toMatchObject({ code: 0 });
  expect(run.stdout).toContain('path: 1.25.0 -> 1.27.9 -> 1.29.6 -> 1.31.0 on Kubernetes 1.32');
  expect(run.stdout).toContain('(3 archives: 3 downloaded, 0 already there)');
  expect(run.stdout).not.toContain('warning');

  const index = await readIndex(join(site(), 'mirror'));
  const files = index.versions.flatMap((v) => v.files.map((f) => `${f.kind} ${f.name}`));
  for (const version of HOPS) {
    expect(files).toContain(`istioctl-archive istioctl-${version}-linux-amd64.tar.gz`);
    expect(files).toContain(`istioctl istioctl-${version}-linux-amd64`);
  }
  expect(readdirSync(site()).sort()).toEqual(['images.txt', 'mirror']);

  const images = readFileSync(join(site(), 'images.txt'), 'utf8');
  expect(images).toBe(
    [
      '# Images for the stepped path 1.25.0 -> 1.27.9 -> 1.29.6 -> 1.31.0 on Kubernetes 1.32 (istio-installer prepare-site).',
      '# Lines starting with # are comments; every other line is one image to copy into the private registry.',
      '# hop 1.27.9',
      'reg.local/rancher/mirrored-istio-pilot:1.27.9',
      'reg.local/rancher/mirrored-istio-proxyv2:1.27.9',
      '# hop 1.29.6',
      'reg.local/rancher/mirrored-istio-pilot:1.29.6',
      'reg.local/rancher/mirrored-istio-proxyv2:1.29.6',
      '# hop 1.31.0',
      'reg.local/rancher/mirrored-istio-pilot:1.31.0',
      'reg.local/rancher/mirrored-istio-proxyv2:1.31.0',
      '# the chart (installer Jobs and release mirror, Kiali, Jaeger where enabled)',
      'reg.local/rancher-istio/installer:0.1.0',
      'reg.local/kiali/kiali:v2.11.0',
      '',
    ].join('\n'),
  );
  expect(readFileSync(join(work.path, 'helm-args'), 'utf8').trim()).toBe(
    `template rancher-istio ${join(process.cwd(), 'charts/rancher-istio')} --namespace istio-system -f ${values}`,
  );

  const before = requests.length;
  const again = await prepare();
  expect(again).toMatchObject({ code: 0 });
  expect(again.stdout).toContain('(3 archives: 0 downloaded, 3 already there)');
  expect(requests.length).toBe(before);
  expect((await prepare('--no-download')).code).toBe(0);
});

test('a checksum mismatch exits 3 naming the archive, and the site stays as it was', async () => {
  writeFileSync(
    join(releases, '1.29.6', 'istioctl-1.29.6-linux-amd64.tar.gz.sha256'),
    `${'0'.repeat(64)}  istioctl-1.29.6-linux-amd64.tar.gz\n`,
  );
  const run = await prepare();
  expect(run.code).toBe(3);
  expect(run.stderr).toContain(
    `refused: checksum mismatch: ${releaseUrl}/1.29.6/istioctl-1.29.6-linux-amd64.tar.gz has sha256`,
  );
  expect(run.stderr).toContain('hint: ');
  siteUntouched();
});

test('an archive whose release publishes no .sha256 is taken, and the summary says it was not verified', async () => {
  rmSync(join(releases, '1.27.9', 'istioctl-1.27.9-linux-amd64.tar.gz.sha256'));
  const run = await prepare();
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(
    'warning: no published .sha256 for istioctl-1.27.9-linux-amd64.tar.gz; not verified against the release',
  );
});

test('an archive the release server lacks exits 3 naming it and the mirror add that fixes it; nothing changes', async () => {
  rmSync(join(releases, '1.31.0'), { recursive: true });
  const run = await prepare();
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('cannot download istioctl-1.31.0-linux-amd64.tar.gz for hop 1.31.0');
  expect(run.stderr).toContain(
    `istio-installer mirror add --dir ${join(site(), 'mirror')} istioctl-1.31.0-linux-amd64.tar.gz`,
  );
  siteUntouched();
});

test('a hop with no istioctl among the versions to fetch exits 3 naming the minor and the option that fixes it', async () => {
  const run = await prepare('--istio-version', '1.25.0', '--istio-version', '1.31.0');
  expect(run.code).toBe(3);
  expect(run.stderr).toMatch(/no istioctl for Istio 1\.27, 1\.29 among the versions to fetch/);
  expect(run.stderr).toContain('--istio-version 1.27.<patch> --istio-version 1.29.<patch>');
  expect(requests).toEqual([]);
  siteUntouched();
});

test('invalid values exit 2; a bad --arch exits 2; nothing is fetched or written', async () => {
  writeFileSync(values, 'tag: "not a tag!"\n');
  expect((await prepare()).code).toBe(2);
  writeFileSync(values, RANCHER_VALUES);
  expect((await prepare('--arch', 's390x')).code).toBe(2);
  expect(requests).toEqual([]);
  siteUntouched();
});

test('a site mirror that lacks an archive or holds a corrupt one exits 3 before any download', async () => {
  const empty = await prepare('--no-download');
  expect(empty.code).toBe(3);
  expect(empty.stderr).toContain(
    'lacks istioctl-1.27.9-linux-amd64.tar.gz, istioctl-1.29.6-linux-amd64.tar.gz',
  );
  expect(empty.stderr).toContain('istio-installer prepare-site --dir');
  expect(requests).toEqual([]);

  expect((await prepare()).code).toBe(0);
  truncateSync(join(site(), 'mirror', 'releases', '1.29.6', 'istioctl-1.29.6-linux-amd64.tar.gz'), 10);
  const before = requests.length;
  const damaged = await prepare();
  expect(damaged.code).toBe(3);
  expect(damaged.stderr).toContain("the site's mirror");
  expect(damaged.stderr).toContain('istioctl-1.29.6-linux-amd64.tar.gz: size 10');
  expect(damaged.stderr).toContain('istio-installer mirror verify --dir');
  expect(requests.length).toBe(before);
});

test("without --from and --kube, the site's Istio and Kubernetes are read from its cluster", async () => {
  const kube = new FakeKube();
  kube.kubeVersion = 'v1.32.4+rke2r1';
  kube.namespaces.push({ metadata: { name: 'istio-system' } });
  kube.deployments.push(istiodDeployment({ version: '1.27.9' }));
  const request: PrepareSiteRequest = {
    istioOperator: {
      apiVersion: 'install.istio.io/v1alpha1',
      kind: 'IstioOperator',
      spec: { tag: '1.31.0' },
    },
    autoVersion: true,
    allowUnsupportedKubernetes: false,
    namespace: 'istio-system',
    candidates: ['1.27.9', '1.29.6', '1.31.0'],
    arches: ['amd64'],
    dir: site(),
    releaseUrl,
    chart: 'chart',
    valuesFiles: [],
    helm: 'helm',
    noDownload: false,
  };
  const helmRuns: string[][] = [];
  const prepared = await prepareSite(request, {
    kube,
    runner: {
      run: async (file, args) => {
        helmRuns.push([file, ...args]);
        return { exitCode: 0, stdout: RENDERED, stderr: '', timedOut: false };
      },
    },
    fetch: globalThis.fetch,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    env: {},
  });
  expect(prepared.summary[0]).toBe('path: 1.27.9 -> 1.29.6 -> 1.31.0 on Kubernetes 1.32');
  expect(helmRuns).toEqual([['helm', 'template', 'rancher-istio', 'chart', '--namespace', 'istio-system']]);
  expect(requests.filter((r) => !r.endsWith('.sha256'))).toEqual([
    '/1.29.6/istioctl-1.29.6-linux-amd64.tar.gz',
    '/1.31.0/istioctl-1.31.0-linux-amd64.tar.gz',
  ]);
});

test("the chart's mirror (the image's directory, then the site's) gives the installer the same path and each hop's verified istioctl", async () => {
  expect((await prepare()).code).toBe(0);
  // The image's own mirror holds only the newest release, as a small image would.
  const image = join(work.path, 'image-mirror');
  await addToMirror(image, [makeTarball(work.path, 'istioctl', '1.31.0', 'amd64')], silent);
  const mirror = await startMirrorServer({
    dir: image,
    extraDirs: [join(site(), 'mirror')],
    port: 0,
    host: '127.0.0.1',
    log: { ...silent, error: () => undefined },
  });
  try {
    const versions = await mirrorIstioctlVersions(
      mirror.url,
      { os: 'linux', arch: 'amd64' },
      globalThis.fetch,
    );
    expect(versions).toEqual(['1.31.0', '1.29.6', '1.27.9']);
    const hops = upgradePath(parseIstioVersion('1.25.0')!, parseIstioVersion('1.31.0')!, versions, {
      major: 1,
      minor: 32,
    });
    expect(hops?.map((hop) => `${hop.version} ${hop.istioctl}`)).toEqual([
      '1.27.9 available',
      '1.29.6 available',
      '1.31.0 available',
    ]);
    for (const version of ['1.27.9', '1.29.6']) {
      const got = await obtainIstioctl(
        { version, mirrorUrl: mirror.url, os: 'linux', arch: 'amd64' },
        { fetch: globalThis.fetch, cacheDir: join(work.path, 'cache') },
      );
      expect(got.source).toBe('mirror');
      expect(readFileSync(got.path, 'utf8')).toContain(`client version: ${version} (amd64)`);
    }
  } finally {
    await mirror.close();
  }
});

test('chartImages lists every container and init container image once, in order', () => {
  expect(
    chartImages([
      {
        spec: {
          template: {
            spec: { initContainers: [{ image: 'a' }], containers: [{ image: 'b' }, { image: 'a' }] },
          },
        },
      },
      { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: 'c' }] } } } } } },
      null,
    ]),
  ).toEqual(['a', 'b', 'c']);
});
