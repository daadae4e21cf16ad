// Real istioctl of every pinned version, offline: the install's offline check renders without the base component
// (Istio's CRDs) unless the spec sets base's own settings, and that must lose nothing. Every other object it renders is
// the full render's, byte for byte once parsed (so the admission check dry-runs the same pods), and it refuses exactly
// the specs the full render refuses, with the same message.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { load, loadAll } from 'js-yaml';
import { baseHasSettings, manifestGenerateArgs } from '../../src/installer/istioctl/offline-check.js';
import { isObject, type JsonObject } from '../../src/overlay/json.js';
import { RIG_ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'istioctl-offline-render-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function specFile(spec: string): { path: string; spec: JsonObject } {
  const path = join(dir, `spec-${fileCount++}.yaml`);
  const text = `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: offline, namespace: istio-system}\nspec:\n${spec}`;
  writeFileSync(path, text);
  const parsed = load(text) as JsonObject;
  return { path, spec: isObject(parsed.spec) ? parsed.spec : {} };
}

/** Runs the pinned istioctl with no kubeconfig and no network (a fresh network namespace), as the offline check is. */
async function istioctl(version: string, args: string[]) {
  return execa('unshare', ['--net', '--', toolPaths().istioctl[version as '1.31.0'], ...args], {
    reject: false,
    env: { HOME: dir, KUBECONFIG: join(dir, 'absent'), PATH: process.env.PATH ?? '' },
    extendEnv: false,
  });
}

type KubeObject = JsonObject & { kind: string; metadata: JsonObject & { name: string; labels?: JsonObject } };

/**
 * The manifest's objects. istioctl 1.23.2 writes whether base is enabled into the values its injector ConfigMap
 * carries (as `global.enabled`); later versions do not. That one field is taken out, nothing else.
 */
function objects(stdout: string): KubeObject[] {
  const all = (loadAll(stdout) as unknown[]).filter((o): o is KubeObject => isObject(o));
  for (const o of all)
    if (o.kind === 'ConfigMap' && isObject(o.data))
      for (const key of ['values', 'merged-values', 'original-values']) {
        const text = o.data[key];
        if (typeof text !== 'string') continue;
        const values = JSON.parse(text) as JsonObject;
        if (isObject(values.global)) delete values.global.enabled;
        o.data[key] = values;
      }
  return all;
}

/** The kinds Istio's base chart makes, 1.23 to 1.31: CRDs, the default revision's validation, the reader account. */
const BASE_KINDS = [
  'CustomResourceDefinition',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
];

/** What the admission check reads of a manifest (preflight.ts): the objects that make pods, and Namespaces. */
const ADMISSION_KINDS = ['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'Pod', 'Namespace'];
const keyOf = (o: KubeObject) => `${o.kind} ${String(o.metadata.namespace ?? '')}/${o.metadata.name}`;
const byKey = (list: KubeObject[]) => Object.fromEntries(list.map((o) => [keyOf(o), o]));

/** Specs that install something, each a different set of components with pods. */
const GOOD_SPECS: Record<string, string> = {
  'default profile with an extra gateway': `  profile: default
  components:
    ingressGateways:
      - {name: internal-gateway, enabled: true, k8s: {service: {type: ClusterIP}}}
`,
  'ambient profile': '  profile: ambient\n',
  'demo profile with CNI': '  profile: demo\n  components: {cni: {enabled: true}}\n',
  'minimal profile with a revision': '  profile: minimal\n  revision: canary\n',
};

/** Bad specs: some only the values' decoding refuses, some only base's render (when base has settings). */
const BAD_SPECS: Record<string, string> = {
  'unknown field in values.global': '  values: {global: {foo: 1}}\n',
  'wrong type in values.pilot': '  values: {pilot: {replicaCount: "x"}}\n',
  'unknown field in values.base': '  values: {base: {bogus: true}}\n',
  'wrong type in values.base': '  values: {base: {validationCABundle: 5}}\n',
  'unknown field in components.base.k8s': '  components: {base: {k8s: {bogus: 1}}}\n',
  'a bad quantity in components.base.k8s':
    '  components: {base: {k8s: {resources: {requests: {cpu: abc}}}}}\n',
  'a base overlay on an object base does not make':
    '  components: {base: {k8s: {overlays: [{kind: ClusterRole, name: nonexistent, patches: [{path: x, value: 1}]}]}}}\n',
  'components.base is not an object': '  components: {base: 5}\n',
  'unknown field in meshConfig': '  meshConfig: {bogus: 1}\n',
  'wrong type in components.pilot.k8s': '  components: {pilot: {k8s: {resources: {requests: 5}}}}\n',
  'unknown profile': '  profile: nonexistent\n',
  'unknown compatibilityVersion': '  compatibilityVersion: "0.1"\n',
};

/** istioctl's verdict: refused or not, and the last line it wrote to stderr when it refused. */
async function verdict(version: string, args: string[]): Promise<{ refused: boolean; why: string }> {
  const run = await istioctl(version, args);
  const refused = run.exitCode !== 0;
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  // A check in every chart's templates (an unknown compatibility version) is reported by each chart rendered (1.23.2)
  // or by the first (base's in the full render, istiod's without it): the same refusal, once per chart.
  const reasons = last
    .replaceAll(/error at \([a-z-]+\/templates\//g, 'error at (<chart>/templates/')
    .split(', ');
  return { refused, why: refused ? [...new Set(reasons)].join(', ') : '' };
}

describe.each([...RIG_ISTIO_VERSIONS])('istioctl %s', (version) => {
  test.each(Object.keys(GOOD_SPECS))(
    '%s: the offline render is the full render without base, and base makes no pod',
    async (name) => {
      const { path, spec } = specFile(GOOD_SPECS[name] ?? '');
      expect(baseHasSettings(spec)).toBe(false);
      const [full, offline] = await Promise.all([
        istioctl(version, ['manifest', 'generate', '-f', path]),
        istioctl(version, manifestGenerateArgs(path, spec)),
      ]);
      expect(full.stderr).toBe(offline.stderr);
      expect([full.exitCode, offline.exitCode]).toEqual([0, 0]);
      const all = byKey(objects(full.stdout));
      const rendered = byKey(objects(offline.stdout));
      // Every object the offline render makes is the full render's, unchanged.
      expect(rendered).toEqual(Object.fromEntries(Object.keys(rendered).map((key) => [key, all[key]])));
      // What it leaves out is base's (the CRDs, a revision's validating webhook, the reader account) and makes no pod.
      const left = Object.values(all).filter((o) => !(keyOf(o) in rendered));
      expect(left.length).toBeGreaterThan(0);
      expect([...new Set(left.map((o) => o.kind))].filter((kind) => !BASE_KINDS.includes(kind))).toEqual([]);
      expect(left.filter((o) => ADMISSION_KINDS.includes(o.kind))).toEqual([]);
    },
  );

  test.each(Object.keys(BAD_SPECS))('%s: refused or accepted as the full render does', async (name) => {
    const { path, spec } = specFile(BAD_SPECS[name] ?? '');
    const [full, offline] = await Promise.all([
      verdict(version, ['manifest', 'generate', '-f', path]),
      verdict(version, manifestGenerateArgs(path, spec)),
    ]);
    expect(offline).toEqual(full);
  });
});
