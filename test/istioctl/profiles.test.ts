// Real istioctl 1.30.4 and 1.31.0 on our renderings, offline (no cluster, no network): for every profile istioctl
// ships, `manifest generate` of our rendering yields the same objects as the plain profile, identical apart from
// Rancher's own additions (linux placement and the gateway Services' NodePorts), which are checked on their own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadAll } from 'js-yaml';
import { InputError } from '../../src/errors.js';
import { parseClientVersion } from '../../src/installer/istioctl/find.js';
import { execaRunner, istioctl as boundIstioctl } from '../../src/installer/istioctl/runner.js';
import { checkWithIstioctl } from '../../src/installer/istioctl/offline-check.js';
import { buildIstioOperator } from '../../src/overlay/build.js';
import { parseYamlSource } from '../../src/overlay/yaml-source.js';
import { isObject, type Json, type JsonObject } from '../../src/overlay/json.js';
import { PROFILE_COMPONENTS } from '../../src/overlay/profiles.js';
import { PROFILES } from '../../src/overlay/values-schema.js';
import { ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';
import { runCli } from '../helpers/run-cli.js';

interface KubeObject extends JsonObject {
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

/** Rancher's default ingress gateway has two ports more than Istio's: tcp 31400 and tls 15443. */
const RANCHER_PORTS = [31400, 15443];

const RANCHER_TOLERATION = { key: 'cattle.io/os', operator: 'Equal', value: 'linux', effect: 'NoSchedule' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'istioctl-profiles-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function file(content: string): string {
  const path = join(dir, `input-${fileCount++}.yaml`);
  writeFileSync(path, content);
  return path;
}

/** Runs the pinned istioctl with no kubeconfig and no network (a fresh network namespace). */
async function istioctl(version: string, args: string[]) {
  return execa('unshare', ['--net', '--', toolPaths().istioctl[version as '1.31.0'], ...args], {
    reject: false,
    env: { HOME: dir, KUBECONFIG: join(dir, 'absent'), PATH: process.env.PATH ?? '' },
    extendEnv: false,
  });
}

async function generate(version: string, args: string[]): Promise<KubeObject[]> {
  const r = await istioctl(version, ['manifest', 'generate', ...args]);
  if (r.exitCode !== 0)
    throw new Error(`istioctl ${version} manifest generate ${args.join(' ')}: ${r.stderr}`);
  return (loadAll(r.stdout) as (KubeObject | null)[]).filter((o): o is KubeObject => isObject(o));
}

/** Our rendering of a values file (and further CLI args), as the file istioctl gets. */
async function ours(values: string, args: string[] = []): Promise<string> {
  const run = await runCli(['render', '-f', file(values), ...args]);
  if (run.code !== 0) throw new Error(run.stderr);
  return file(run.stdout);
}

const keyOf = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objects: KubeObject[]) => new Map(objects.map((o) => [keyOf(o), o]));

function podSpec(o: KubeObject): JsonObject | undefined {
  const spec = o.spec;
  if (!isObject(spec) || !isObject(spec.template) || !isObject(spec.template.spec)) return undefined;
  return spec.template.spec;
}

/**
 * The object without what Rancher deliberately adds: pod nodeSelector and tolerations, and a gateway Service's type
 * (in the Service and in the values ConfigMaps), node ports, its tcp/tls ports (and their container ports) and the
 * fields only a LoadBalancer has. Everything else must be equal.
 */
function withoutRancherAdditions(o: KubeObject): KubeObject {
  const copy = structuredClone(o);
  const pod = podSpec(copy);
  if (pod) {
    delete pod.nodeSelector;
    delete pod.tolerations;
  }
  const isGateway = /gateway/.test(copy.metadata.name);
  if (copy.kind === 'Service' && isObject(copy.spec) && isGateway) {
    delete copy.spec.type;
    delete copy.spec.externalTrafficPolicy;
    if (Array.isArray(copy.spec.ports))
      copy.spec.ports = copy.spec.ports.filter(
        (p) => !(isObject(p) && RANCHER_PORTS.includes(Number(p.port))),
      );
    // The API server fills in protocol TCP where a port has none, so a port without one is the same port.
    for (const port of (copy.spec.ports ?? []) as Json[])
      if (isObject(port)) {
        delete port.nodePort;
        port.protocol ??= 'TCP';
      }
  }
  // Rancher's gateway Service types are values (values.gateways.<name>.type, as Rancher's template wrote them), so the
  // values ConfigMaps istiod reads show them too.
  if (copy.kind === 'ConfigMap' && isObject(copy.data))
    for (const key of ['values', 'merged-values', 'original-values']) {
      const text = copy.data[key];
      if (typeof text !== 'string') continue;
      const values = JSON.parse(text) as Json;
      if (isObject(values) && isObject(values.gateways))
        for (const gateway of Object.values(values.gateways)) if (isObject(gateway)) delete gateway.type;
      copy.data[key] = values;
    }
  // The chart opens a container port for each Service port, so Rancher's extra ports show there too.
  if (copy.kind === 'Deployment' && pod && isGateway)
    for (const container of (pod.containers ?? []) as Json[])
      if (isObject(container) && Array.isArray(container.ports))
        container.ports = container.ports.filter(
          (p) => !(isObject(p) && RANCHER_PORTS.includes(Number(p.containerPort))),
        );
  return copy;
}

/** The object without seccomp profiles: on pods (dropping a securityContext left empty) and in values ConfigMaps. */
function withoutSeccomp(o: KubeObject): KubeObject {
  const copy = structuredClone(o);
  const pod = podSpec(copy);
  if (pod && isObject(pod.securityContext)) {
    delete pod.securityContext.seccompProfile;
    if (Object.keys(pod.securityContext).length === 0) delete pod.securityContext;
  }
  if (copy.kind === 'ConfigMap' && isObject(copy.data))
    for (const key of ['values', 'merged-values', 'original-values']) {
      const text = copy.data[key];
      if (typeof text !== 'string') continue;
      const values = JSON.parse(text) as Json;
      if (isObject(values) && isObject(values.global) && isObject(values.global.proxy)) {
        delete values.global.proxy.seccompProfile;
        if (Object.keys(values.global.proxy).length === 0) delete values.global.proxy;
      }
      copy.data[key] = JSON.stringify(values);
    }
  return copy;
}

function tolerationsOf(o: KubeObject): Json[] {
  const tolerations = podSpec(o)?.tolerations;
  return Array.isArray(tolerations) ? tolerations : [];
}

describe.each([...ISTIO_VERSIONS])('istioctl %s', (version) => {
  test('reports its own version offline as parseClientVersion reads it', async () => {
    const r = await istioctl(version, ['version', '--remote=false']);
    expect(r.exitCode).toBe(0);
    expect(parseClientVersion(r.stdout)).toBe(version);
  });

  test.each([...PROFILES])(
    'profile %s installs exactly the components PROFILE_COMPONENTS says (istioctl 1.30+ has no `profile dump`)',
    async (profile) => {
      const objects = await generate(version, ['--set', `profile=${profile}`]);
      const has = (kind: string, name: string) =>
        objects.some((o) => o.kind === kind && o.metadata.name === name);
      const ofComponent = (component: string) =>
        objects.some(
          (o) =>
            isObject(o.metadata.labels) && o.metadata.labels['operator.istio.io/component'] === component,
        );
      const expected = PROFILE_COMPONENTS[profile];
      const gatewayOn = (list: readonly JsonObject[], name: string) =>
        list.some((g) => g.name === name && g.enabled === true);
      expect({
        base: has('CustomResourceDefinition', 'virtualservices.networking.istio.io'),
        pilot: ofComponent('Pilot'),
        cni: has('DaemonSet', 'istio-cni-node'),
        ztunnel: has('DaemonSet', 'ztunnel'),
        istiodRemote: ofComponent('IstiodRemote'),
        ingress: has('Deployment', 'istio-ingressgateway'),
        egress: has('Deployment', 'istio-egressgateway'),
      }).toEqual({
        base: expected.enabled.base ?? false,
        pilot: expected.enabled.pilot ?? false,
        cni: expected.enabled.cni ?? false,
        ztunnel: expected.enabled.ztunnel ?? false,
        istiodRemote: expected.enabled.istiodRemote ?? false,
        ingress: gatewayOn(expected.ingressGateways, 'istio-ingressgateway'),
        egress: gatewayOn(expected.egressGateways, 'istio-egressgateway'),
      });
    },
  );

  test.each([...PROFILES])(
    'profile %s: our rendering has the plain profile objects, equal but for Rancher placement and gateway ports',
    async (profile) => {
      // podSecurity off here: what it adds (a seccomp profile) is checked against this rendering below.
      const [mine, plain, secured] = await Promise.all([
        ours(`profile: ${profile}\ntag: "${version}"\npodSecurity: {seccompProfile: ""}\n`).then((f) =>
          generate(version, ['-f', f]),
        ),
        generate(version, ['--set', `profile=${profile}`]),
        ours(`profile: ${profile}\ntag: "${version}"\n`).then((f) => generate(version, ['-f', f])),
      ]);
      // By default (podSecurity.seccompProfile: RuntimeDefault) the only change is that profile on every
      // Deployment's pod and, in the values ConfigMaps, on the proxies.
      const securedByKey = byKey(secured);
      expect([...securedByKey.keys()].sort()).toEqual([...byKey(mine).keys()].sort());
      for (const object of mine) {
        const key = keyOf(object);
        const other = securedByKey.get(key) as KubeObject;
        if (object.kind === 'Deployment')
          expect([key, (podSpec(other)?.securityContext as JsonObject | undefined)?.seccompProfile]).toEqual([
            key,
            { type: 'RuntimeDefault' },
          ]);
        expect([key, withoutSeccomp(other)]).toEqual([key, withoutSeccomp(object)]);
      }
      const mineByKey = byKey(mine);
      const plainByKey = byKey(plain);
      expect([...mineByKey.keys()].sort()).toEqual([...plainByKey.keys()].sort());
      for (const [key, object] of mineByKey) {
        const other = plainByKey.get(key) as KubeObject;
        expect([key, withoutRancherAdditions(object)]).toEqual([key, withoutRancherAdditions(other)]);
        const pod = podSpec(object);
        if (!pod) continue;
        expect([key, pod.nodeSelector]).toEqual([
          key,
          expect.objectContaining({ 'kubernetes.io/os': 'linux' }),
        ]);
        // Rancher's toleration is added; the chart's own ones (node agents tolerate every taint) are kept.
        const tolerations = tolerationsOf(object);
        expect([key, tolerations]).toEqual([key, expect.arrayContaining(tolerationsOf(other))]);
        if (object.kind === 'Deployment') expect(tolerations).toContainEqual(RANCHER_TOLERATION);
      }
    },
  );
});

/** The pod spec of the one object of `kind` named `name`. */
function podOf(objects: KubeObject[], kind: string, name: string): JsonObject {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`no ${kind} ${name}`);
  return podSpec(object) as JsonObject;
}

const CNI_DIRS = {
  rke2: ['/opt/cni/bin', '/etc/cni/net.d'],
  k3s: ['/var/lib/rancher/k3s/data/current/bin', '/var/lib/rancher/k3s/agent/etc/cni/net.d'],
};

describe.each([...ISTIO_VERSIONS])('istioctl %s with ambient and Rancher values', (version) => {
  test.each(['rke2', 'k3s'] as const)(
    'ambient.enabled on %s: the ambient profile objects, CNI host paths and privileges, Rancher placement, registry',
    async (platform) => {
      const values = [
        `tag: "${version}"`,
        'ambient: {enabled: true, ztunnel: {resources: {requests: {cpu: 250m}}}}',
        `cni: {platform: ${platform}}`,
        'global: {cattle: {systemDefaultRegistry: registry.example.com}}',
        'nodeSelector: {mesh.example.com/node: "true"}',
        'tolerations: [{key: dedicated, operator: Equal, value: mesh, effect: NoSchedule}]',
      ].join('\n');
      const [mine, plain] = await Promise.all([
        ours(values).then((f) => generate(version, ['-f', f])),
        generate(version, ['--set', 'profile=ambient']),
      ]);
      expect(byKey(mine).size).toBe(byKey(plain).size);
      expect([...byKey(mine).keys()].sort()).toEqual([...byKey(plain).keys()].sort());

      const cni = podOf(mine, 'DaemonSet', 'istio-cni-node');
      const hostPaths = (cni.volumes as JsonObject[])
        .map((v) => (isObject(v.hostPath) ? v.hostPath.path : undefined))
        .filter(Boolean);
      expect(hostPaths).toEqual(expect.arrayContaining(CNI_DIRS[platform]));
      const installCni = (cni.containers as JsonObject[]).find((c) => c.name === 'install-cni') as JsonObject;
      expect((installCni.securityContext as JsonObject).privileged).toBe(true);

      const plainCni = podOf(plain, 'DaemonSet', 'istio-cni-node');
      for (const pod of [cni, podOf(mine, 'DaemonSet', 'ztunnel')]) {
        expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'mesh.example.com/node': 'true' });
        // The node agents keep their chart's tolerate-everything and get Rancher's and the user's on top.
        expect(pod.tolerations).toEqual(
          expect.arrayContaining([
            ...(plainCni.tolerations as Json[]),
            RANCHER_TOLERATION,
            { key: 'dedicated', operator: 'Equal', value: 'mesh', effect: 'NoSchedule' },
          ]),
        );
      }
      const ztunnel = podOf(mine, 'DaemonSet', 'ztunnel');
      const container = (ztunnel.containers as JsonObject[])[0] as JsonObject;
      // The profile's own image variant (distroless) under the registry Rancher sets.
      expect(container.image).toMatch(
        new RegExp(`^registry\\.example\\.com/istio/ztunnel:${version.replace(/\./g, '\\.')}`),
      );
      expect((container.resources as JsonObject).requests).toEqual(expect.objectContaining({ cpu: '250m' }));
    },
  );
});

describe.each([...ISTIO_VERSIONS])('istioctl %s with pinned node agent images', (version) => {
  test('ambient.ztunnel and cni repository/tag pin the full image references, as for the other components', async () => {
    const values = [
      `tag: "${version}"`,
      'ambient: {enabled: true, ztunnel: {repository: mirrored/ztunnel, tag: 9.9.9-custom}}',
      'cni: {repository: mirrored/install-cni, tag: 9.9.8-custom}',
      'global: {cattle: {systemDefaultRegistry: registry.example.com}}',
    ].join('\n');
    const objects = await ours(values).then((f) => generate(version, ['-f', f]));
    const image = (name: string) =>
      ((podOf(objects, 'DaemonSet', name).containers as JsonObject[])[0] as JsonObject).image;
    expect(image('ztunnel')).toBe('registry.example.com/mirrored/ztunnel:9.9.9-custom');
    expect(image('istio-cni-node')).toBe('registry.example.com/mirrored/install-cni:9.9.8-custom');
  });
});

describe.each([...ISTIO_VERSIONS])('istioctl %s and our checks agree', (version) => {
  const overlay = (spec: string) =>
    file(`apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n${spec}`);

  test('empty revision, profile, hub, namespace and compatibilityVersion: istioctl reads them as unset, we accept them', async () => {
    const eastwest = overlay(
      '  revision: ""\n  profile: ""\n  hub: ""\n  namespace: ""\n  compatibilityVersion: ""\n',
    );
    const raw = await istioctl(version, ['manifest', 'generate', '-f', eastwest]);
    expect(raw.exitCode).toBe(0);
    const run = await runCli(['render', '--overlay', eastwest, '--set', `tag=${version}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/revision:|compatibilityVersion:|namespace: ""/);
    const mine = await generate(version, ['-f', file(run.stdout)]);
    const plain = await generate(version, ['-f', file(run.stdout.replace(/^ {2}profile: default\n/m, ''))]);
    expect(mine.map(keyOf).sort()).toEqual(plain.map(keyOf).sort());
  });

  test.each([
    ['an empty tag', '  tag: ""\n'],
    [
      'an unknown field in a toleration under k8s',
      '  components:\n    pilot:\n      k8s:\n        tolerations:\n          - key: a\n            operator: Exists\n            thats: x\n',
    ],
  ])('%s: istioctl refuses it, and so do we, with exit 2', async (_what, spec) => {
    const input = overlay(spec);
    const raw = await istioctl(version, ['manifest', 'generate', '-f', input]);
    expect(raw.exitCode).not.toBe(0);
    const run = await runCli(['render', '--overlay', input]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(input);
  });

  test("an unknown values field: the offline check with this istioctl reports it at the user's file and key", async () => {
    const valuesFile = file(`tag: "${version}"\nvalues:\n  pilot:\n    autoscaleEnabledd: false\n`);
    const parsed = parseYamlSource(
      `tag: "${version}"\nvalues:\n  pilot:\n    autoscaleEnabledd: false\n`,
      valuesFile,
    );
    if (!parsed.ok) throw new Error('unparsable');
    const built = buildIstioOperator({ values: [parsed.source], overlays: [], sets: [] });
    if (!built.ok) throw new Error(JSON.stringify(built.issues));
    const specFile = file((await runCli(['render', '-f', valuesFile])).stdout);
    const tool = boundIstioctl(
      toolPaths().istioctl[version as '1.31.0'],
      execaRunner(),
      { HOME: dir },
      () => undefined,
    );
    const error = (await checkWithIstioctl(
      tool,
      specFile,
      built.istioOperator.spec as JsonObject,
      built.locate,
    ).catch((e: unknown) => e)) as InputError;
    expect(error).toBeInstanceOf(InputError);
    expect(error.issues).toEqual([
      expect.objectContaining({ file: valuesFile, line: 4, path: 'values.pilot.autoscaleEnabledd' }),
    ]);
  });
});
