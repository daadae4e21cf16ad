// `prepare-site`: on a connected machine, fills a directory with what an air-gapped cluster needs for the stepped
// path from its Istio to the target: every hop's istioctl archive as a release mirror, and the list of every image.
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { PreconditionError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { downloadRelease, ISTIO_RELEASE_URL } from '../../mirror/client.js';
import { readIndex, addToMirror, verifyMirror } from '../../mirror/store.js';
import type { JsonObject } from '../../overlay/json.js';
import type { Kube } from '../cluster/kube.js';
import { readClusterState } from '../cluster/read-state.js';
import { formatKube, parseKubeVersion } from '../decide/kube-support.js';
import { chartImages, imageList, planSite, type SitePlan } from '../decide/site.js';
import type { ProcessRunner } from '../istioctl/runner.js';
import { formatIstioVersion, parseIstioVersion } from '../model/istio-version.js';
import { orRefuse } from '../model/refusal.js';
import { controlPlaneOf, defaultRevision } from '../model/state.js';

export interface PrepareSiteRequest {
  istioOperator: JsonObject;
  autoVersion: boolean;
  allowUnsupportedKubernetes: boolean;
  /** The site's Istio version; read from the cluster's active istiod when absent. */
  from?: string;
  /** The site's Kubernetes (`1.32`); read from the cluster when absent. */
  kube?: string;
  namespace: string;
  /** Istio versions the hops may use. */
  candidates: readonly string[];
  arches: readonly string[];
  /** The site directory: `mirror/` (a release mirror) and `images.txt` go there. */
  dir: string;
  /** Base URL of Istio's releases (tests point it at a local server). */
  releaseUrl?: string;
  /** The chart (directory or package) and the values files `helm template` renders it with. */
  chart: string;
  valuesFiles: readonly string[];
  helm: string;
  /** Fetch nothing: check that the site's mirror already holds every hop's archive. */
  noDownload: boolean;
}

export interface PrepareSiteDeps {
  /** Only needed when `from` or `kube` is read from the cluster. */
  kube?: Kube;
  runner: ProcessRunner;
  fetch: typeof globalThis.fetch;
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
}

export interface PreparedSite {
  site: SitePlan;
  mirrorDir: string;
  imagesFile: string;
  /** Lines for stdout. */
  summary: string[];
}

export const siteMirrorDir = (dir: string): string => join(dir, 'mirror');
export const siteImagesFile = (dir: string): string => join(dir, 'images.txt');

/** The site's Istio and Kubernetes: as given, else read from the cluster. */
async function siteVersions(request: PrepareSiteRequest, deps: PrepareSiteDeps) {
  let fromText = request.from;
  let kubeText = request.kube;
  if (fromText === undefined || kubeText === undefined) {
    if (!deps.kube)
      throw new PreconditionError(
        'prepare-site needs the Istio version and Kubernetes minor of the site',
        'pass --from and --kube, or --kubeconfig of the cluster to read them from',
      );
    if (kubeText === undefined) kubeText = await deps.kube.serverVersion();
    if (fromText === undefined) {
      const state = await readClusterState(deps.kube, request.namespace);
      const revision = defaultRevision(state);
      const version = revision === undefined ? undefined : controlPlaneOf(state, revision)?.version;
      if (!version)
        throw new PreconditionError(
          `no istiod with a known version runs in namespace ${request.namespace}`,
          'pass --from with the Istio version the site runs',
        );
      fromText = formatIstioVersion(version);
    }
  }
  const from = parseIstioVersion(fromText);
  if (!from) throw new PreconditionError(`"${fromText}" is not an Istio version`, 'pass --from like 1.25.0');
  const kube = parseKubeVersion(kubeText.startsWith('v') ? kubeText : `v${kubeText}`);
  if (!kube)
    throw new PreconditionError(`"${kubeText}" is not a Kubernetes version`, 'pass --kube like 1.32');
  return { from, kube };
}

/** The images of every pod the chart renders with the user's values (`helm template`). */
async function renderChartImages(request: PrepareSiteRequest, deps: PrepareSiteDeps): Promise<string[]> {
  const args = [
    'template',
    'rancher-istio',
    request.chart,
    '--namespace',
    request.namespace,
    ...request.valuesFiles.flatMap((file) => ['-f', file]),
  ];
  const result = await deps.runner.run(request.helm, args, { timeoutMs: 120_000, env: deps.env });
  if (result.exitCode !== 0)
    throw new PreconditionError(
      `helm template ${request.chart} failed: ${(result.stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `exit ${String(result.exitCode)}`}`,
      'check --chart and the values files (helm lint), or pass --helm with the path of helm',
    );
  return chartImages(loadAll(result.stdout).filter((doc) => doc !== null));
}

/**
 * Decides the path, renders the chart's images, checks the site's mirror, downloads and verifies every missing
 * archive into a staging directory, and only then adds them to the mirror and writes the image list. Every refusal
 * (no path, a missing hop, an archive the release lacks, a checksum mismatch, a mirror that drifted) comes before
 * the site directory changes.
 */
export async function prepareSite(request: PrepareSiteRequest, deps: PrepareSiteDeps): Promise<PreparedSite> {
  const { from, kube } = await siteVersions(request, deps);
  const site = orRefuse(
    planSite({
      from,
      kube,
      istioOperator: request.istioOperator,
      autoVersion: request.autoVersion,
      candidates: request.candidates,
      allowUnsupportedKubernetes: request.allowUnsupportedKubernetes,
      arches: request.arches,
    }),
  );
  const chart = await renderChartImages(request, deps);

  const mirrorDir = siteMirrorDir(request.dir);
  const { problems } = await verifyMirror(mirrorDir);
  if (problems.length > 0)
    throw new PreconditionError(
      `the site's mirror ${mirrorDir} is damaged: ${problems[0]!.file}: ${problems[0]!.problem}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      `run "istio-installer mirror verify --dir ${mirrorDir}", then remove what it names and run prepare-site again`,
    );
  const held = new Set(
    (await readIndex(mirrorDir)).versions.flatMap((v) => v.files.map((file) => file.name)),
  );
  const missing = site.archives.filter((archive) => !held.has(archive.file));
  if (request.noDownload && missing.length > 0)
    throw new PreconditionError(
      `the site's mirror ${mirrorDir} lacks ${missing.map((a) => a.file).join(', ')} (hop${missing.length > 1 ? 's' : ''} of the path ${[formatIstioVersion(from), ...site.hops.map((h) => h.version)].join(' -> ')})`,
      `run "istio-installer prepare-site --dir ${request.dir} --from ${formatIstioVersion(from)} --kube ${formatKube(kube)} --chart CHART" on a connected machine, or "istio-installer mirror add --dir ${mirrorDir} ${missing[0]!.file}"`,
    );

  const baseUrl = request.releaseUrl ?? ISTIO_RELEASE_URL;
  await mkdir(request.dir, { recursive: true });
  const staging = await mkdtemp(join(request.dir, '.staging-'));
  const unverified: string[] = [];
  try {
    const files: string[] = [];
    for (const archive of missing) {
      deps.log.info(`downloading ${archive.file}`, { url: `${baseUrl}/${archive.version}/${archive.file}` });
      const got = await downloadRelease(
        { baseUrl, version: archive.version, file: archive.file, dir: staging },
        { fetch: deps.fetch },
      ).catch((error: unknown) => {
        if (error instanceof PreconditionError && !error.hint)
          throw new PreconditionError(
            `cannot download ${archive.file} for hop ${archive.version}: ${error.message}`,
            `download it with its .sha256 on a machine that can reach ${baseUrl}/${archive.version}/, then "istio-installer mirror add --dir ${mirrorDir} ${archive.file}"`,
          );
        throw error;
      });
      if (!got.verified) unverified.push(archive.file);
      files.push(got.path);
    }
    if (files.length > 0) await addToMirror(mirrorDir, files, deps.log);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const imagesFile = siteImagesFile(request.dir);
  await writeFile(`${imagesFile}.tmp`, imageList(site, kube, chart));
  await rename(`${imagesFile}.tmp`, imagesFile);

  const path = [formatIstioVersion(from), ...site.hops.map((hop) => hop.version)].join(' -> ');
  const imageCount = new Set([...site.hopImages.flatMap((h) => h.images), ...chart]).size;
  return {
    site,
    mirrorDir,
    imagesFile,
    summary: [
      `path: ${path} on Kubernetes ${formatKube(kube)}`,
      ...site.notes.map((note) => note.trim()),
      `mirror: ${mirrorDir} (${site.archives.length} archive${site.archives.length === 1 ? '' : 's'}: ${missing.length} downloaded, ${site.archives.length - missing.length} already there)`,
      ...(unverified.length > 0
        ? [`warning: no published .sha256 for ${unverified.join(', ')}; not verified against the release`]
        : []),
      `images: ${imagesFile} (${imageCount} images)`,
    ],
  };
}
