// Same effect as Rancher's chart, proved with real istioctl: `manifest generate` of our rendering of Rancher's values and
// of the IstioOperator Rancher's template made from them give the same objects (all but the ConfigMaps holding the
// values as JSON, see differingObjects, and istiod's own chart toleration, which ours keeps), so the same gateways
// with the Service types Rancher gave them, including the gateways an overlay shaped like Rancher's
// samples/overlay-example.yaml adds.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { dump, load, loadAll } from 'js-yaml';
import { runCli } from '../helpers/run-cli.js';
import { ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';

const RANCHER = 'test/fixtures/rancher';
const OVERLAY_EXAMPLE = 'test/fixtures/render/rancher-overlay-example/overlay.yaml';
const work = mkdtempSync(path.join(tmpdir(), 'rancher-istioctl-'));

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}
interface ServicePort {
  name: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  protocol?: string;
}
type Doc = Record<string, unknown> & {
  spec: { components: { ingressGateways: Record<string, unknown>[] } };
};

/**
 * Rancher's chart set no seccomp profile; ours sets RuntimeDefault by default (podSecurity, for PodSecurity
 * `restricted`). The equivalence is proved with it off; the test at the end shows that it adds only that.
 */
const podSecurityOff = path.join(work, 'pod-security-off.yaml');
writeFileSync(podSecurityOff, "podSecurity:\n  seccompProfile: ''\n");

async function ourRendering(args: string[], podSecurity: 'off' | 'default' = 'off'): Promise<string> {
  const run = await runCli(['render', ...args, ...(podSecurity === 'off' ? ['-f', podSecurityOff] : [])]);
  if (run.code !== 0) throw new Error(`render failed: ${run.stderr}`);
  return run.stdout;
}

/**
 * Rancher's rendering for today's istioctl. Its template wrote `revision:` empty (null): the istioctl Rancher ran read
 * that as no revision (its installs have a plain `istiod`), while 1.30+ renders it as a revision named "<nil>"
 * (`istiod-<nil>`), so it is dropped here; nothing else is changed.
 */
function rancherRendering(text: string): Doc {
  const doc = load(text) as Doc & { spec: { revision?: unknown } };
  if (doc.spec.revision === null) delete doc.spec.revision;
  return doc;
}

/** Rancher's rendering plus an overlay, merged as Rancher's istioctl (1.23 and older) merged gateways: by name. */
function rancherWithOverlay(base: string, overlay: string): string {
  const doc = rancherRendering(base);
  const added = (load(overlay) as Doc).spec.components.ingressGateways;
  doc.spec.components.ingressGateways = [...doc.spec.components.ingressGateways, ...added];
  return dump(doc);
}

async function manifestGenerate(version: string, iop: string, name: string): Promise<K8sObject[]> {
  const file = path.join(work, `${name}-${version}.yaml`);
  writeFileSync(file, iop);
  const r = await execa(toolPaths().istioctl[version as (typeof ISTIO_VERSIONS)[number]], [
    'manifest',
    'generate',
    '-f',
    file,
  ]);
  return loadAll(r.stdout).filter((o): o is K8sObject => typeof o === 'object' && o !== null);
}

/** Every gateway Service as `namespace/name` -> type and ports (sorted by name), the parts users' traffic depends on. */
function gatewayServices(objects: K8sObject[]) {
  return Object.fromEntries(
    objects
      .filter((o) => o.kind === 'Service' && o.metadata.name !== 'istiod')
      .map((o) => {
        const spec = o.spec as { type?: string; ports: ServicePort[] };
        const ports = [...spec.ports].sort((a, b) => a.name.localeCompare(b.name));
        return [`${o.metadata.namespace}/${o.metadata.name}`, { type: spec.type, ports }];
      }),
  );
}

/** Deployments as `namespace/name` -> container images and the pod placement. */
function deployments(objects: K8sObject[]) {
  type Pod = {
    template: {
      spec: {
        containers: { name: string; image: string }[];
        nodeSelector?: unknown;
        tolerations?: unknown;
      };
    };
  };
  return Object.fromEntries(
    objects
      .filter((o) => o.kind === 'Deployment')
      .map((o) => {
        const pod = (o.spec as Pod).template.spec;
        return [
          `${o.metadata.namespace}/${o.metadata.name}`,
          {
            images: pod.containers.map((c) => `${c.name}=${c.image}`),
            nodeSelector: pod.nodeSelector,
            tolerations: pod.tolerations,
          },
        ];
      }),
  );
}

/**
 * The objects of two manifests that differ, by `kind/namespace/name`. Expected: only the ConfigMaps that carry the
 * whole IstioOperator values as JSON (`istio`, `istio-sidecar-injector`, `values`), where Rancher's rendering says
 * `hub: docker.io` (ours: the default hub, which no image reaches since Rancher's values pin every image), repeats each
 * gateway's name under values.gateways, and has an empty `proxyMetadata:` (null).
 */
function differingObjects(a: K8sObject[], b: K8sObject[]): string[] {
  const byKey = (objects: K8sObject[]) =>
    new Map(
      objects.map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, JSON.stringify(o)]),
    );
  const [left, right] = [byKey(a), byKey(b)];
  return [...new Set([...left.keys(), ...right.keys()])]
    .filter((key) => left.get(key) !== right.get(key))
    .sort();
}
/**
 * istiod's chart tolerates `cni.istio.io/not-ready` (the taint istio-cni puts on a node whose agent is not ready).
 * `k8s.tolerations` replaces the chart's list, so Rancher's template, which wrote only `cattle.io/os`, dropped it from
 * istiod; ours keeps it in front (src/overlay/values-to-iop.ts), as plain istioctl has it. `ours` without it, after
 * checking it is there and Rancher's istiod lacks it: then the comparison shows that this is the one difference.
 */
function withoutIstiodChartToleration(ours: K8sObject[], rancher: K8sObject[]): K8sObject[] {
  const chartToleration = JSON.stringify({ key: 'cni.istio.io/not-ready', operator: 'Exists' });
  const tolerationsOf = (objects: K8sObject[]) =>
    (
      objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod')?.spec as
        { template: { spec: { tolerations?: unknown[] } } } | undefined
    )?.template.spec.tolerations ?? [];
  expect(tolerationsOf(ours).map((t) => JSON.stringify(t))).toContain(chartToleration);
  expect(tolerationsOf(rancher).map((t) => JSON.stringify(t))).not.toContain(chartToleration);
  return ours.map((o) => {
    if (o.kind !== 'Deployment' || o.metadata.name !== 'istiod') return o;
    const copy = structuredClone(o) as K8sObject & {
      spec: { template: { spec: { tolerations: unknown[] } } };
    };
    copy.spec.template.spec.tolerations = copy.spec.template.spec.tolerations.filter(
      (t) => JSON.stringify(t) !== chartToleration,
    );
    return copy;
  });
}
const VALUES_CONFIGMAPS = [
  'ConfigMap/istio-system/istio',
  'ConfigMap/istio-system/istio-sidecar-injector',
  'ConfigMap/istio-system/values',
];

/**
 * Rancher's four lines: each values file beside the IstioOperator Rancher's template made from it. The 104.x template
 * (also 105.x's) gets the overlay example, the 107.x template (which adds logging) the egress gateway.
 */
const WITH_OVERLAY = ['104.5.0', '105.5.1'];
const WITH_EGRESS = ['107.0.0', '107.1.0'];

test('the equivalence below covers every Rancher line whose values file is a fixture', () => {
  const lines = readdirSync(RANCHER)
    .filter((name) => name.endsWith('-values.yaml'))
    .map((name) => name.replace(/-values\.yaml$/, ''));
  expect([...WITH_OVERLAY, ...WITH_EGRESS].sort()).toEqual(lines.sort());
});

describe.each(ISTIO_VERSIONS)('istioctl %s manifest generate', (version) => {
  test.each(WITH_OVERLAY)(
    "Rancher's %s values with the overlay example: the objects of Rancher's rendering, gateways NodePort",
    async (line) => {
      const ours = await manifestGenerate(
        version,
        await ourRendering(['-f', `${RANCHER}/${line}-values.yaml`, '--overlay', OVERLAY_EXAMPLE]),
        `ours-${line}`,
      );
      const rancher = await manifestGenerate(
        version,
        rancherWithOverlay(
          readFileSync(`${RANCHER}/${line}-istio-base.yaml`, 'utf8'),
          readFileSync(OVERLAY_EXAMPLE, 'utf8'),
        ),
        `rancher-${line}`,
      );
      const comparable = withoutIstiodChartToleration(ours, rancher);
      expect(differingObjects(comparable, rancher)).toEqual(VALUES_CONFIGMAPS);
      const services = gatewayServices(ours);
      expect(services).toEqual(gatewayServices(rancher));
      expect(deployments(comparable)).toEqual(deployments(rancher));
      // The gateways the overlay adds have no type of their own: values.gateways makes them NodePort, as under Rancher.
      expect(Object.keys(services).sort()).toEqual([
        'cattle-istio-system/other-gateway',
        'istio-system/istio-ingressgateway',
        'user-ingressgateway-ns/ilb-gateway',
      ]);
      for (const service of Object.values(services)) expect(service.type).toBe('NodePort');
      expect(
        services['istio-system/istio-ingressgateway']?.ports.map((p) => [p.name, p.nodePort ?? null]),
      ).toEqual([
        ['http2', 31380],
        ['https', 31390],
        ['status-port', null],
        ['tcp', 31400],
        ['tls', null],
      ]);
    },
  );

  test('the type written only on the default gateway, as rancher-istio did before, would make them LoadBalancer', async () => {
    // The control: proves that the comparison above can tell the two placements apart.
    const doc = load(
      await ourRendering(['-f', `${RANCHER}/104.5.0-values.yaml`, '--overlay', OVERLAY_EXAMPLE]),
    ) as Doc & { spec: { values: { gateways?: unknown } } };
    delete doc.spec.values.gateways;
    const defaultGateway = doc.spec.components.ingressGateways[0] as { k8s: { service: { type?: string } } };
    defaultGateway.k8s.service.type = 'NodePort';
    const services = gatewayServices(await manifestGenerate(version, dump(doc), 'old-104'));
    expect(services['istio-system/istio-ingressgateway']?.type).toBe('NodePort');
    expect(services['user-ingressgateway-ns/ilb-gateway']?.type).toBe('LoadBalancer');
    expect(services['cattle-istio-system/other-gateway']?.type).toBe('LoadBalancer');
  });

  test.each(WITH_EGRESS)(
    "Rancher's %s values with the egress gateway on: the objects of Rancher's rendering, logging included",
    async (line) => {
      const rancherBase = rancherRendering(
        readFileSync(`${RANCHER}/${line}-istio-base.yaml`, 'utf8'),
      ) as Doc & {
        spec: { components: { egressGateways: { enabled: boolean }[] } };
      };
      (rancherBase.spec.components.egressGateways[0] as { enabled: boolean }).enabled = true;
      const rancher = await manifestGenerate(version, dump(rancherBase), `rancher-${line}`);
      const egressOn = path.join(work, 'egress-on.yaml');
      writeFileSync(egressOn, 'egressGateways:\n  enabled: true\n');
      const ours = await manifestGenerate(
        version,
        await ourRendering(['-f', `${RANCHER}/${line}-values.yaml`, '-f', egressOn]),
        `ours-${line}`,
      );
      const comparable = withoutIstiodChartToleration(ours, rancher);
      expect(differingObjects(comparable, rancher)).toEqual(VALUES_CONFIGMAPS);
      const services = gatewayServices(ours);
      expect(services).toEqual(gatewayServices(rancher));
      expect(services['istio-system/istio-egressgateway']?.type).toBe('NodePort');
      expect(deployments(comparable)).toEqual(deployments(rancher));
      const istiodArgs = (objects: K8sObject[]) =>
        (
          objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod')?.spec as {
            template: { spec: { containers: { args?: string[] }[] } };
          }
        ).template.spec.containers[0]?.args;
      expect(istiodArgs(ours)).toEqual(istiodArgs(rancher));
    },
  );

  test.each(WITH_OVERLAY)(
    "Rancher's %s values by default: only the pods' seccomp profile is added, to istiod and every gateway",
    async (line) => {
      const args = ['-f', `${RANCHER}/${line}-values.yaml`, '--overlay', OVERLAY_EXAMPLE];
      const off = await manifestGenerate(version, await ourRendering(args), `off-${line}`);
      const on = await manifestGenerate(version, await ourRendering(args, 'default'), `on-${line}`);
      type PodSpec = { securityContext?: { seccompProfile?: unknown } };
      const podOf = (o: K8sObject) => (o.spec as { template: { spec: PodSpec } }).template.spec;
      const changed = differingObjects(on, off);
      expect(changed).toEqual(
        on
          .filter((o) => o.kind === 'Deployment')
          .map((o) => `Deployment/${o.metadata.namespace}/${o.metadata.name}`)
          .sort(),
      );
      for (const o of on.filter((o) => o.kind === 'Deployment'))
        expect(podOf(o).securityContext?.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      const withoutSeccomp = on.map((o) => {
        if (o.kind !== 'Deployment') return o;
        const copy = structuredClone(o);
        delete podOf(copy).securityContext?.seccompProfile;
        const context = podOf(copy).securityContext;
        if (context && Object.keys(context).length === 0) delete podOf(copy).securityContext;
        return copy;
      });
      expect(differingObjects(withoutSeccomp, off)).toEqual([]);
    },
  );
});
