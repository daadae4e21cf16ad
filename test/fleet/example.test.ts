// examples/fleet read by Fleet's own code: `fleet apply -o -` (Fleet v0.16.1's CLI, no cluster) turns it into the
// Bundle Fleet would store, which must keep every key the example sets (Fleet's YAML reader drops unknown ones
// silently), and every group's merged values must render with the chart (real helm, the chart's schema).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { load, loadAll, dump } from 'js-yaml';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from '../chart/render.js';
import { KUBE_VERSION, toolPaths } from '../cluster/tools.js';

type Tree = Record<string, unknown>;
const isMap = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Paths of every key in `ours` that `theirs` lacks (lists compared index by index). */
function droppedKeys(ours: unknown, theirs: unknown, path = ''): string[] {
  if (Array.isArray(ours))
    return ours.flatMap((v, i) =>
      droppedKeys(v, Array.isArray(theirs) ? theirs[i] : undefined, `${path}[${i}]`),
    );
  if (!isMap(ours)) return [];
  return Object.entries(ours).flatMap(([k, v]) => {
    const at = path ? `${path}.${k}` : k;
    if (!isMap(theirs) || !(k in theirs)) return [at];
    return droppedKeys(v, theirs[k], at);
  });
}

/** Helm-style values merge, as Fleet merges a target's values over the bundle's: maps deep, anything else replaced. */
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? merge(b, v) : v;
  }
  return out;
}

interface Target {
  name?: string;
  helm?: { values?: Tree };
}
interface Bundle {
  kind: string;
  metadata: { name: string };
  spec: Tree & { helm?: { values?: Tree }; targets?: Target[] };
}

let dir: string;
let bundle: Bundle;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-example-'));
  const repo = join(dir, 'repo');
  cpSync('examples/fleet', repo, { recursive: true });
  cpSync(CHART, join(repo, 'rancher-istio'), { recursive: true });
  writeFileSync(join(dir, 'targets.yaml'), 'targets:\n  - name: all\n    clusterSelector: {}\n');
  // `fleet apply` loads a kubeconfig before anything else, even with `-o`, though it then never connects: one
  // naming a port nothing listens on proves that.
  writeFileSync(
    join(dir, 'kubeconfig'),
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'none', user: {} }],
      contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
      'current-context': 'none',
    }),
  );
  const r = await execa(
    toolPaths().fleet.cli,
    [
      'apply',
      `--kubeconfig=${join(dir, 'kubeconfig')}`,
      '-o',
      '-',
      `--targets-file=${join(dir, 'targets.yaml')}`,
      'rancher-istio',
      '.',
    ],
    { cwd: repo, reject: false, all: true, env: { HOME: dir } },
  );
  if (r.exitCode !== 0) throw new Error(`fleet apply -o - failed:\n${r.all}`);
  const docs = loadAll(r.stdout) as Bundle[];
  const found = docs.find((d) => d?.kind === 'Bundle');
  if (!found) throw new Error(`no Bundle in fleet apply's output:\n${r.stdout.slice(0, 2000)}`);
  bundle = found;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const example = () => load(readFileSync('examples/fleet/fleet.yaml', 'utf8')) as Tree;

test("Fleet's types keep every key of the example's fleet.yaml", () => {
  const { targetCustomizations, ...rest } = example();
  expect(droppedKeys(rest, bundle.spec)).toEqual([]);
  // fleet apply turns targetCustomizations into the Bundle's targets, ahead of the GitRepo's.
  expect(droppedKeys(targetCustomizations, bundle.spec.targets)).toEqual([]);
  expect(bundle.spec.targets?.map((t) => t.name)).toEqual(['sidecar', 'ambient', 'air-gapped', 'all']);
  expect(bundle.spec).toMatchObject({
    defaultNamespace: NAMESPACE,
    targetCustomizationMode: 'AllMatches',
    helm: { releaseName: RELEASE, chart: './rancher-istio' },
  });
});

test('the values files are read into the Bundle: the shared values, the overlay, and the ambient group file', () => {
  expect(bundle.spec.helm?.values).toMatchObject({
    tag: '1.31.0',
    overlays: [{ kind: 'IstioOperator' }],
  });
  expect(bundle.spec.targets?.[1]?.helm?.values).toEqual({ ambient: { enabled: true } });
});

describe.each([
  ['sidecar', ['sidecar']],
  ['ambient', ['ambient']],
  ['air-gapped sidecar', ['sidecar', 'air-gapped']],
  ['air-gapped ambient', ['ambient', 'air-gapped']],
])('the %s group', (_group, names) => {
  test.each(HELMS.map(([v, b]) => [v, b] as const))(
    "its merged values pass the chart's schema and render (helm %s)",
    async (_v, binary) => {
      let values = bundle.spec.helm?.values ?? {};
      for (const name of names) {
        const target = bundle.spec.targets?.find((t) => t.name === name);
        values = merge(values, target?.helm?.values ?? {});
      }
      const file = join(dir, `${names.join('+')}-${_v}.yaml`);
      writeFileSync(file, dump(values));
      const r = await helm(binary, [
        'template',
        RELEASE,
        CHART,
        '-n',
        NAMESPACE,
        '--kube-version',
        KUBE_VERSION,
        '-f',
        file,
      ]);
      expect({ exitCode: r.exitCode, output: r.exitCode === 0 ? '' : r.all }).toEqual({
        exitCode: 0,
        output: '',
      });
      if (names.includes('air-gapped'))
        expect(r.stdout).toContain('image: "registry.example.internal:5000/rancher-istio/istio-installer:');
    },
  );
});
