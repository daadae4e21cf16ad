// Pinned test tools (istioctl and pilot-discovery of each Istio version, helm v3/v4, the kube control plane and
// kubectl of each Kubernetes version, kwok, etcd, Rancher Fleet): where each lives in the cache outside the repo, and
// how `npm run tools` builds a missing one from the Go module proxy (or, for old Istio and Fleet, from
// ../shared/third-party).
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import {
  AGENTGATEWAY_API_MODULE,
  LOCAL_API_MODULE_FILES,
  istioWithStandIn,
} from './pilot-discovery-build.js';
import {
  SOURCE_ISTIO_BUILDS,
  SOURCE_ISTIO_VERSIONS,
  buildIstioFromSource,
  releaseLdflags,
  type SourceIstioVersion,
} from './istio-source-build.js';
import { FLEET_FILES, FLEET_VERSION, buildFleetFromSource } from './fleet-build.js';
import { ensureGo, ensureHostCommands } from './prerequisites.js';

/**
 * Istio minors the rig carries, older first. The Go module proxy reachable here serves only a few istio.io/istio
 * commits, none of them the exact tag of every patch release, so each entry names the commit it is built from.
 */
export const ISTIO_BUILDS = [
  {
    // A release-1.30 commit of 2026-08-26, the day before the 1.30.4 tag (4220640); the newest 1.30 commit the
    // proxy serves. Labelled 1.30.4 because that is the release it became.
    version: '1.30.4',
    module: 'v0.0.0-20260826214018-9739e10eb9d7',
  },
  {
    // Exactly the 1.31.0 tag (eed52eb, also 1.31.0-rc.4).
    version: '1.31.0',
    module: 'v0.0.0-20260827124520-eed52ebb66ad',
  },
] as const;

export type IstioVersion = (typeof ISTIO_BUILDS)[number]['version'];
/** The Istio versions the installer image bundles and the rig's tests run through (`describe.each`). */
export const ISTIO_VERSIONS: readonly IstioVersion[] = ISTIO_BUILDS.map((b) => b.version);
export { SOURCE_ISTIO_VERSIONS, type SourceIstioVersion };
/** Every Istio version the rig has istioctl and pilot-discovery of: the old source builds, then ISTIO_VERSIONS. */
export type RigIstioVersion = SourceIstioVersion | IstioVersion;
export const RIG_ISTIO_VERSIONS: readonly RigIstioVersion[] = [...SOURCE_ISTIO_VERSIONS, ...ISTIO_VERSIONS];
/** The hub release builds of 1.30+ compile in (1.30 moved the default registry off docker.io). */
export const ISTIO_HUB = 'registry.istio.io/release';

/**
 * The exact istio.io/api, client-go and go-control-plane pseudo-versions that istio's go.mod asks for are not on
 * the proxy; the nearest versions it serves are pinned instead (API additions only, checked by compiling).
 */
const ISTIO_DEPENDENCY_PINS: Record<string, string> = {
  'istio.io/api': 'v1.31.1',
  'istio.io/client-go': 'v1.31.1',
  'github.com/envoyproxy/go-control-plane/envoy': 'v1.37.1-0.20260729145720-a2d8c7492908',
  'github.com/envoyproxy/go-control-plane/contrib': 'v1.36.1-0.20260729145720-a2d8c7492908',
};

/**
 * Kubernetes releases the rig runs. 1.36: the minor both ISTIO_VERSIONS support (1.30: 1.32–1.36; 1.31:
 * 1.33–1.37), the default. 1.32: what Rancher 2.12 clusters run (its 107.x charts: >= 1.31 < 1.33), the newest
 * 1.32 patch the module proxy serves.
 */
export const KUBE_VERSIONS = { '1.36': 'v1.36.3', '1.32': 'v1.32.13' } as const;
export type KubeMinor = keyof typeof KUBE_VERSIONS;
export const KUBE_MINORS = Object.keys(KUBE_VERSIONS) as KubeMinor[];
export const DEFAULT_KUBE_MINOR: KubeMinor = '1.36';
/** The default rig's Kubernetes version (what charts are rendered against). */
export const KUBE_VERSION = KUBE_VERSIONS[DEFAULT_KUBE_MINOR];

export function isKubeMinor(value: string): value is KubeMinor {
  return Object.hasOwn(KUBE_VERSIONS, value);
}
export const HELM3_VERSION = 'v3.22.0';
export const HELM4_VERSION = 'v4.3.1';
export const KWOK_VERSION = 'v0.8.0';
export const ETCD_VERSION = 'v3.6.8';
/** The prometheus-operator release whose CRDs judge the chart's monitors (rancher-monitoring ships the same kinds). */
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

export type KubeBinary = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl';
const KUBE_BINARIES: readonly KubeBinary[] = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
];

export interface ToolPaths {
  istioctl: Record<RigIstioVersion, string>;
  /** istiod's binary of each Istio version, run by the rig for istiod pods. */
  pilotDiscovery: Record<RigIstioVersion, string>;
  helm3: string;
  helm4: string;
  /** The Kubernetes version of the four binaries below (one of KUBE_VERSIONS). */
  kubeVersion: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  etcd: string;
  /** ServiceMonitor and PodMonitor CRDs of PROMETHEUS_OPERATOR_VERSION, one multi-document YAML file. */
  monitoringCrds: string;
  /** Rancher Fleet FLEET_VERSION: its three binaries and its CRDs (needed only by the Fleet rig, which asks). */
  fleet: { controller: string; agent: string; cli: string; crds: string };
}

/** Root of the tool cache; one `<tool>/<version>/<binary>` directory per tool. */
export function toolsDir(): string {
  return process.env.RANCHER_ISTIO_TOOLS ?? join(homedir(), '.cache', 'rancher-istio', 'tools');
}

/**
 * Absolute paths of every pinned tool (whether built yet or not; see `missingTools`), with the Kubernetes binaries
 * of `kube` (default DEFAULT_KUBE_MINOR).
 */
export function toolPaths(root: string = toolsDir(), kube: KubeMinor = DEFAULT_KUBE_MINOR): ToolPaths {
  const at = (tool: string, version: string, binary = tool): string => join(root, tool, version, binary);
  const perVersion = (tool: string) =>
    Object.fromEntries(RIG_ISTIO_VERSIONS.map((v) => [v, at(tool, v)])) as Record<RigIstioVersion, string>;
  const kubeVersion = KUBE_VERSIONS[kube];
  return {
    istioctl: perVersion('istioctl'),
    pilotDiscovery: perVersion('pilot-discovery'),
    helm3: at('helm', HELM3_VERSION, 'helm'),
    helm4: at('helm', HELM4_VERSION, 'helm'),
    kubeVersion,
    kubeApiserver: at('kube-apiserver', kubeVersion),
    kubeControllerManager: at('kube-controller-manager', kubeVersion),
    kubeScheduler: at('kube-scheduler', kubeVersion),
    kubectl: at('kubectl', kubeVersion),
    kwok: at('kwok', KWOK_VERSION),
    etcd: at('etcd', ETCD_VERSION),
    monitoringCrds: at('monitoring-crds', PROMETHEUS_OPERATOR_VERSION, 'crds.yaml'),
    fleet: {
      controller: at('fleet', FLEET_VERSION, FLEET_FILES.controller),
      agent: at('fleet', FLEET_VERSION, FLEET_FILES.agent),
      cli: at('fleet', FLEET_VERSION, FLEET_FILES.cli),
      crds: at('fleet', FLEET_VERSION, FLEET_FILES.crds),
    },
  };
}

/** Every file of one ToolPaths, or with `istio` only the istioctl and pilot-discovery of those Istio versions. */
function toolFiles(p: ToolPaths, istio: readonly RigIstioVersion[] = RIG_ISTIO_VERSIONS): string[] {
  return [
    ...istio.flatMap((v) => [p.istioctl[v], p.pilotDiscovery[v]]),
    p.helm3,
    p.helm4,
    p.kubeApiserver,
    p.kubeControllerManager,
    p.kubeScheduler,
    p.kubectl,
    p.kwok,
    p.etcd,
    p.monitoringCrds,
  ];
}

/**
 * Paths of pinned tools not yet in the cache: every tool, the Kubernetes binaries of each KUBE_VERSIONS entry; or,
 * with `kube`, what a rig of that version needs to start: its Kubernetes binaries and the Istio of `istio` (default
 * ISTIO_VERSIONS: the old source builds are needed only by the tests that run them, which ask for them).
 */
export function missingTools(
  root: string = toolsDir(),
  kube?: KubeMinor,
  istio: readonly RigIstioVersion[] = ISTIO_VERSIONS,
): string[] {
  const all = kube
    ? toolFiles(toolPaths(root, kube), istio)
    : [
        ...KUBE_MINORS.flatMap((minor) => toolFiles(toolPaths(root, minor), RIG_ISTIO_VERSIONS)),
        ...Object.values(toolPaths(root).fleet),
      ];
  return [...new Set(all)].filter((f) => !existsSync(f));
}

export class ToolBuildError extends Error {
  constructor(
    readonly tool: string,
    readonly reason: string,
  ) {
    super(`${tool}: ${reason}`);
    this.name = 'ToolBuildError';
  }
}

/** One cache entry: `<root>/<tool>/<version>/<binary>`, produced by `build(outDir)` writing `<outDir>/<binary>`. */
interface ToolSpec {
  label: string;
  tool: string;
  version: string;
  binary: string;
  build: (outDir: string) => Promise<void>;
  /**
   * Needed only by the cluster tier's tests that ask for it (the other Kubernetes, the old Istio releases, Fleet),
   * not by a rig of the default versions: the demo's cold build leaves it out.
   */
  testsOnly?: true;
}

/** `base`: what a rig of the default versions needs (the demo); `all`: every pinned tool (the cluster tier). */
export type ToolSet = 'base' | 'all';

type Log = (line: string) => void;

/** The `go` binary the builds use: the host's, or a toolchain fetched by `ensureGo`. */
let goCommand = 'go';

/** Go's own cgo-free, path-free release settings; `nice` because builds share two cores with people working. */
async function go(args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const r = await execa('nice', ['-n', '10', goCommand, ...args], {
    cwd,
    env: { CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false', ...extraEnv },
    reject: false,
    all: true,
  });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').split('\n').slice(-25).join('\n');
    throw new Error(`go ${args.join(' ')} failed (exit ${r.exitCode}):\n${tail}`);
  }
  return r.stdout;
}

/** The go.mod of a module version, read from the module cache after downloading it. */
async function moduleGoMod(modulePath: string, version: string, cwd: string): Promise<string> {
  const out = await go(['mod', 'download', '-json', `${modulePath}@${version}`], cwd, {
    GOFLAGS: '-mod=mod',
  });
  const info = JSON.parse(out) as { GoMod?: string; Error?: string };
  if (info.Error || !info.GoMod)
    throw new Error(`cannot download ${modulePath}@${version}: ${info.Error ?? '?'}`);
  return readFileSync(info.GoMod, 'utf8');
}

/**
 * Builds `pkg` inside a throwaway wrapper module that requires `require` and applies `replace`; the wrapper is
 * what lets modules whose own go.mod has `replace` (kubernetes, etcd) or unreachable pins (istio) build.
 */
async function buildInWrapper(opts: {
  require: Record<string, string>;
  replace?: Record<string, string>;
  /** Modules replaced by a local directory of these files (module path -> file name -> content). */
  replaceLocal?: Record<string, Record<string, string>>;
  /** Changes the wrapper module (in `dir`) once its modules are downloaded, before the build. */
  beforeBuild?: (dir: string) => Promise<void>;
  pkg: string;
  out: string;
  ldflags: string[];
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rancher-istio-gobuild-'));
  try {
    const req = Object.entries(opts.require).map(([m, v]) => `\t${m} ${v}`);
    const local = Object.entries(opts.replaceLocal ?? {}).map(([m, files], i) => {
      mkdirSync(join(dir, `local${i}`));
      for (const [name, content] of Object.entries(files))
        writeFileSync(join(dir, `local${i}`, name), content);
      return `\t${m} => ./local${i}`;
    });
    const rep = [...Object.entries(opts.replace ?? {}).map(([m, v]) => `\t${m} => ${m} ${v}`), ...local];
    const goMod = [
      'module rancher-istio.test/toolbuild',
      '',
      'go 1.26.0',
      '',
      'require (',
      ...req,
      ')',
      ...(rep.length ? ['', 'replace (', ...rep, ')'] : []),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'go.mod'), goMod);
    // `go get pkg@version` resolves the package's imports and records their checksums in go.sum.
    const owner = Object.entries(opts.require).find(([m]) => opts.pkg === m || opts.pkg.startsWith(`${m}/`));
    if (!owner) throw new Error(`${opts.pkg} belongs to none of the required modules`);
    await go(['get', `${opts.pkg}@${owner[1]}`], dir);
    await opts.beforeBuild?.(dir);
    await go(['build', '-trimpath', '-ldflags', opts.ldflags.join(' '), '-o', opts.out, opts.pkg], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `go install module/pkg@version` into `outDir`: for modules whose go.mod has no `replace`. */
async function goInstall(pkg: string, version: string, outDir: string, ldflags: string[]): Promise<void> {
  await go(['install', '-trimpath', '-ldflags', ldflags.join(' '), `${pkg}@${version}`], tmpdir(), {
    GOBIN: outDir,
  });
}

const goArch = (): string => ({ x64: 'amd64', arm64: 'arm64' })[process.arch as string] ?? process.arch;

/** An Istio binary (istioctl, or pilot-discovery for the rig's real istiod) of one pinned build. */
function istioSpec(binary: 'istioctl' | 'pilot-discovery', pkg: string) {
  return (build: (typeof ISTIO_BUILDS)[number]): ToolSpec => istioBinarySpec(build, binary, pkg);
}

/** pilot-discovery needs agentgateway's API module, which the proxy does not serve: see pilot-discovery-build.ts. */
function istiodStandIns(binary: string) {
  if (binary !== 'pilot-discovery') return {};
  return {
    replaceLocal: { [AGENTGATEWAY_API_MODULE]: LOCAL_API_MODULE_FILES },
    beforeBuild: async (dir: string) => {
      const istioDir = (await go(['list', '-m', '-f', '{{.Dir}}', 'istio.io/istio'], dir)).trim();
      istioWithStandIn(dir, istioDir);
      await go(['mod', 'edit', '-replace', 'istio.io/istio=./istio'], dir);
    },
  };
}

function istioBinarySpec(build: (typeof ISTIO_BUILDS)[number], binary: string, pkg: string): ToolSpec {
  const commit = build.module.split('-').at(-1) ?? '';
  return {
    label: `${binary} ${build.version}`,
    tool: binary,
    version: build.version,
    binary,
    build: (outDir) =>
      buildInWrapper({
        require: { 'istio.io/istio': build.module },
        replace: ISTIO_DEPENDENCY_PINS,
        ...istiodStandIns(binary),
        pkg,
        out: join(outDir, binary),
        ldflags: releaseLdflags({ version: build.version, hub: ISTIO_HUB }, commit, goArch()),
      }),
  };
}

/** An Istio binary of an old release, built from its checked source archive in ../shared/third-party. */
function sourceIstioSpec(binary: 'istioctl' | 'pilot-discovery', pkg: string) {
  return (build: (typeof SOURCE_ISTIO_BUILDS)[number]): ToolSpec => ({
    label: `${binary} ${build.version}`,
    tool: binary,
    version: build.version,
    binary,
    build: (outDir) =>
      buildIstioFromSource({
        build,
        pkg,
        out: join(outDir, binary),
        arch: goArch(),
        go: (a, cwd) => go(a, cwd),
      }),
  });
}

function helmSpec(major: 3 | 4, version: string): ToolSpec {
  const mod = `helm.sh/helm/v${major}`;
  return {
    label: `helm ${version}`,
    tool: 'helm',
    version,
    binary: 'helm',
    build: async (outDir) => {
      const ldflags = [
        '-s',
        '-w',
        `-X ${mod}/internal/version.version=${version}`,
        `-X ${mod}/internal/version.metadata=`,
        `-X ${mod}/internal/version.gitTreeState=clean`,
      ];
      if (major === 3) {
        // helm 3's Makefile derives the Kubernetes version it assumes (Capabilities.KubeVersion) from client-go.
        const goMod = await moduleGoMod(mod, version, tmpdir());
        const m = /k8s\.io\/client-go v0\.(\d+)\./.exec(goMod);
        if (!m) throw new Error('no k8s.io/client-go requirement in helm go.mod');
        for (const pkg of ['pkg/lint/rules', 'pkg/chartutil']) {
          ldflags.push(`-X ${mod}/${pkg}.k8sVersionMajor=1`, `-X ${mod}/${pkg}.k8sVersionMinor=${m[1]}`);
        }
      }
      await goInstall(`${mod}/cmd/helm`, version, outDir, ldflags);
    },
  };
}

/** Replace every staging module kubernetes requires (v0.0.0 => ./staging/...) by its published v0.X.Y. */
/**
 * Staging modules whose release tag the module proxy here does not serve, and the nearest one it does: the
 * controller manager of v1.32.13 imports k8s.io/endpointslice, served only up to v0.32.12 (the proxy serves
 * k8s.io/kubernetes 1.32 only as v1.32.2 and v1.32.13, and v0.32.2 is missing too).
 */
const KUBE_STAGING_FALLBACKS: Record<string, Record<string, string>> = {
  'v1.32.13': { 'k8s.io/endpointslice': 'v0.32.12' },
};

async function kubeStagingPins(kubeVersion: string): Promise<Record<string, string>> {
  const goMod = await moduleGoMod('k8s.io/kubernetes', kubeVersion, tmpdir());
  const staging = [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\//gm)].map((m) => m[1] ?? '');
  const required = new Set([...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+) v0\.0\.0\b/gm)].map((m) => m[1] ?? ''));
  const published = kubeVersion.replace(/^v1\./, 'v0.');
  const fallbacks = KUBE_STAGING_FALLBACKS[kubeVersion] ?? {};
  return Object.fromEntries(
    staging.filter((m) => required.has(m)).map((m) => [m, fallbacks[m] ?? published]),
  );
}

function kubeSpec(kubeVersion: string, binary: KubeBinary): ToolSpec {
  const [major, minor] = kubeVersion.replace(/^v/, '').split('.');
  return {
    label: `${binary} ${kubeVersion}`,
    tool: binary,
    version: kubeVersion,
    binary,
    build: async (outDir) => {
      // The ldflags kubernetes' hack/lib/version.sh sets, so the server reports its real version.
      const ldflags = ['-s', '-w'];
      for (const pkg of ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version']) {
        ldflags.push(
          `-X ${pkg}.gitVersion=${kubeVersion}`,
          `-X ${pkg}.gitMajor=${major}`,
          `-X ${pkg}.gitMinor=${minor}`,
          `-X ${pkg}.gitTreeState=clean`,
          `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
        );
      }
      await buildInWrapper({
        require: { 'k8s.io/kubernetes': kubeVersion },
        replace: await kubeStagingPins(kubeVersion),
        pkg: `k8s.io/kubernetes/cmd/${binary}`,
        out: join(outDir, binary),
        ldflags,
      });
    },
  };
}

/** Every pinned tool, cheapest first so a quick run reports the common failures early. */
const testsOnly = (spec: ToolSpec): ToolSpec => ({ ...spec, testsOnly: true });

export function toolSpecs(): ToolSpec[] {
  return [
    {
      label: `kwok ${KWOK_VERSION}`,
      tool: 'kwok',
      version: KWOK_VERSION,
      binary: 'kwok',
      build: (outDir) =>
        goInstall('sigs.k8s.io/kwok/cmd/kwok', KWOK_VERSION, outDir, [
          '-s',
          '-w',
          `-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}`,
          `-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION}`,
        ]),
    },
    {
      label: `etcd ${ETCD_VERSION}`,
      tool: 'etcd',
      version: ETCD_VERSION,
      binary: 'etcd',
      // etcd's server module has `replace` lines for its sibling modules; as a dependency they are ignored.
      build: (outDir) =>
        buildInWrapper({
          require: { 'go.etcd.io/etcd/server/v3': ETCD_VERSION },
          pkg: 'go.etcd.io/etcd/server/v3',
          out: join(outDir, 'etcd'),
          ldflags: ['-s', '-w'],
        }),
    },
    helmSpec(3, HELM3_VERSION),
    helmSpec(4, HELM4_VERSION),
    ...KUBE_BINARIES.map((b) => kubeSpec(KUBE_VERSIONS[DEFAULT_KUBE_MINOR], b)),
    ...ISTIO_BUILDS.map(istioSpec('istioctl', 'istio.io/istio/istioctl/cmd/istioctl')),
    // Right after istioctl: the same module, so Go's build cache already holds most of it.
    ...ISTIO_BUILDS.map(istioSpec('pilot-discovery', 'istio.io/istio/pilot/cmd/pilot-discovery')),
    // The other Kubernetes and the old Istio releases last: a rig of the default versions is usable before them.
    ...KUBE_MINORS.filter((m) => m !== DEFAULT_KUBE_MINOR).flatMap((m) =>
      KUBE_BINARIES.map((b) => testsOnly(kubeSpec(KUBE_VERSIONS[m], b))),
    ),
    // istioctl then pilot-discovery of each version (the second reuses the first's packages from Go's build cache),
    // newest first: 1.23.2, which no rig test walks yet, comes last. Cold, measured 2026-12-05 on the 2 shared cores
    // under a load of 4-12 (not quiet): istioctl 403-525 s each (1.25.0 1291 s at load 16), pilot-discovery 19-28 s
    // after it; the four v1.32.13 binaries 1153 s (apiserver 893). All added: about 74 min there.
    ...[...SOURCE_ISTIO_BUILDS]
      .reverse()
      .flatMap((b) => [
        testsOnly(sourceIstioSpec('istioctl', 'istioctl/cmd/istioctl')(b)),
        testsOnly(sourceIstioSpec('pilot-discovery', 'pilot/cmd/pilot-discovery')(b)),
      ]),
    {
      testsOnly: true,
      // After the default Kubernetes and Istio builds, so that Go's caches already hold the client-go and helm
      // packages it shares with them. Cold, measured in docs/development.md.
      label: `fleet ${FLEET_VERSION}`,
      tool: 'fleet',
      version: FLEET_VERSION,
      // The last file the build writes, so its presence means the whole build finished.
      binary: FLEET_FILES.crds,
      build: (outDir) => buildFleetFromSource({ version: FLEET_VERSION, outDir, go: (a, cwd) => go(a, cwd) }),
    },
    {
      // Fetched here, not by the test: the cluster tier runs where nothing off this machine is reachable.
      label: `prometheus-operator CRDs ${PROMETHEUS_OPERATOR_VERSION}`,
      tool: 'monitoring-crds',
      version: PROMETHEUS_OPERATOR_VERSION,
      binary: 'crds.yaml',
      build: async (outDir) => {
        const module = `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}`;
        const out = await go(['mod', 'download', '-json', module], outDir, { GOFLAGS: '-mod=mod' });
        const { Dir, Error: failure } = JSON.parse(out) as { Dir?: string; Error?: string };
        if (failure || !Dir) throw new Error(`cannot download ${module}: ${failure ?? '?'}`);
        const crd = (kind: string) =>
          readFileSync(
            join(Dir, 'example', 'prometheus-operator-crd', `monitoring.coreos.com_${kind}.yaml`),
            'utf8',
          );
        writeFileSync(
          join(outDir, 'crds.yaml'),
          [crd('servicemonitors'), crd('podmonitors')].join('\n---\n'),
        );
      },
    },
  ];
}

/** Builds every missing tool into a temp dir beside its final place, then renames it in, so half tools never count. */
export async function buildTools(
  root: string = toolsDir(),
  log: Log = (l) => process.stderr.write(`${l}\n`),
  set: ToolSet = 'all',
) {
  const failures: ToolBuildError[] = [];
  try {
    await ensureHostCommands(log);
  } catch (err) {
    throw new ToolBuildError('host commands', err instanceof Error ? err.message : String(err));
  }
  const wanted = toolSpecs().filter((s) => set === 'all' || !s.testsOnly);
  const specs = wanted.filter((s) => !existsSync(join(root, s.tool, s.version, s.binary)));
  if (specs.length > 0) {
    try {
      goCommand = await ensureGo(root, log);
    } catch (err) {
      throw new ToolBuildError('go', err instanceof Error ? err.message : String(err));
    }
  }
  for (const spec of wanted) {
    const finalDir = join(root, spec.tool, spec.version);
    if (existsSync(join(finalDir, spec.binary))) {
      log(`tools: ${spec.label}: cached`);
      continue;
    }
    mkdirSync(join(root, spec.tool), { recursive: true });
    const tmp = mkdtempSync(join(root, spec.tool, `.${spec.version}.partial-`));
    const started = Date.now();
    log(`tools: ${spec.label}: building…`);
    try {
      await spec.build(tmp);
      if (!existsSync(join(tmp, spec.binary))) throw new Error(`the build produced no ${spec.binary}`);
      chmodSync(tmp, 0o755);
      rmSync(finalDir, { recursive: true, force: true });
      renameSync(tmp, finalDir);
      log(`tools: ${spec.label}: built in ${Math.round((Date.now() - started) / 1000)}s`);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const cause = err instanceof Error ? err.message : String(err);
      failures.push(new ToolBuildError(spec.label, cause));
      log(`tools: ${spec.label}: FAILED\n${cause}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`tools failed to build:\n${failures.map((f) => `  ${f.tool}`).join('\n')}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  // `--base`: only what a rig of the default versions needs (what `npm run demo` builds).
  const set: ToolSet = process.argv.includes('--base') ? 'base' : 'all';
  buildTools(undefined, undefined, set)
    .then(() => {
      process.stderr.write(
        `tools: ${set === 'all' ? 'all' : 'the base set'} present in ${toolsDir()} (${Math.round((Date.now() - started) / 1000)}s)\n`,
      );
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
