// `istio-installer prepare-site` with the real chart and the rig's helm: Rancher 2.12's values (107.1.0) with the
// Istio version left to the chart, a private registry, Jaeger and the release mirror on; the hop archives come from
// Istio's release layout on loopback. The image list is what the chart and every hop pull.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readIndex } from '../../src/mirror/store.js';
import { toolPaths } from '../cluster/tools.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../mirror/helpers.js';
import { makeReleases, startReleaseServer, type ReleaseServer } from '../mirror/release-server.js';
import { CHART } from './render.js';

let work: ReturnType<typeof tempDir>;
let server: ReleaseServer;
beforeAll(async () => {
  work = tempDir('prepare-site-chart-');
  makeReleases(join(work.path, 'releases'), ['1.27.9', '1.29.6', '1.31.0']);
  server = await startReleaseServer(join(work.path, 'releases'));
});
afterAll(async () => {
  await server.close();
  work.remove();
});

test("Rancher 2.12's values on Kubernetes 1.32: every hop's archive in the site's mirror, every image in one list", async () => {
  const latest = join(work.path, 'latest.yaml');
  writeFileSync(
    latest,
    `tag: ""
pilot: {tag: ""}
cni: {tag: ""}
global:
  cattle: {systemDefaultRegistry: reg.local}
  proxy: {tag: ""}
  proxy_init: {tag: ""}
tracing: {enabled: true}
installer:
  releaseMirror:
    enabled: true
    extraReleases: {existingClaim: istio-releases, subPath: mirror}
`,
  );
  const site = join(work.path, 'site');
  const run = await runCli([
    'prepare-site',
    '--dir',
    site,
    '--from',
    '1.25.0',
    '--kube',
    '1.32',
    '--chart',
    CHART,
    '-f',
    'test/fixtures/rancher/107.1.0-values.yaml',
    '-f',
    latest,
    '--helm',
    toolPaths().helm3,
    '--release-url',
    server.url,
  ]);
  expect(run.stderr).not.toMatch(/^refused/m);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('path: 1.25.0 -> 1.27.9 -> 1.29.6 -> 1.31.0 on Kubernetes 1.32');
  const chartVersion = /^version: (.+)$/m.exec(readFileSync(`${CHART}/Chart.yaml`, 'utf8'))![1]!;
  const images = readFileSync(join(site, 'images.txt'), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'));
  expect(images).toEqual([
    'reg.local/rancher/mirrored-istio-pilot:1.27.9',
    'reg.local/rancher/mirrored-istio-proxyv2:1.27.9',
    'reg.local/rancher/mirrored-istio-pilot:1.29.6',
    'reg.local/rancher/mirrored-istio-proxyv2:1.29.6',
    'reg.local/rancher/mirrored-istio-pilot:1.31.0',
    'reg.local/rancher/mirrored-istio-proxyv2:1.31.0',
    expect.stringMatching(/^reg\.local\/kiali\/kiali:v\d/),
    expect.stringMatching(/^reg\.local\/jaegertracing\/jaeger:\d/),
    `reg.local/rancher-istio/istio-installer:${chartVersion}`,
  ]);
  const index = await readIndex(join(site, 'mirror'));
  expect(index.versions.map((v) => v.version)).toEqual(['1.31.0', '1.29.6', '1.27.9']);
});
