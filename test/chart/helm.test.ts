// helm v3 and v4 lint and render the chart for every ci/ scenario; the rendered objects keep the chart's promises:
// labels, restricted pods, registry prefix, hooks and the installer contract, narrow RBAC, optional parts.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { BUNDLED_ISTIO_VERSIONS, valuesSchema } from '../../src/overlay/values-schema.js';
import {
  formatIstioVersion,
  parseIstioVersion,
  revisionName,
  transitRevisionName,
  type IstioVersion,
} from '../../src/installer/model/istio-version.js';
import { autoTarget, heldBackLine, parseKubeVersion } from '../../src/installer/decide/kube-support.js';
import { upgradePath } from '../../src/installer/decide/path.js';
import { CHART, HELMS, NAMESPACE, RELEASE, SCENARIOS, helm, renderChart, type KubeObject } from './render.js';
import { KUBE_VERSION } from '../cluster/tools.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    seccompProfile?: { type: string };
  };
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; value?: string; effect?: string }[];
  imagePullSecrets?: { name: string }[];
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    emptyDir?: object;
    configMap?: { name: string };
    projected?: { sources: { serviceAccountToken?: { path: string } }[] };
  }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

const CHART_YAML = load(readFileSync(`${CHART}/Chart.yaml`, 'utf8')) as {
  appVersion: string;
  version: string;
};
const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const version = (text: string): IstioVersion => {
  const parsed = parseIstioVersion(text);
  if (!parsed) throw new Error(text);
  return parsed;
};

const get = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const o = find(objects, kind, name);
  if (!o)
    throw new Error(`no ${kind} ${name} in ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};
const podTemplate = (o: KubeObject) => (o.spec as { template: PodTemplate }).template;
const workloads = (objects: KubeObject[]) => objects.filter((o) => ['Deployment', 'Job'].includes(o.kind));
const allContainers = (pod: PodTemplate) => [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const rules = (o: KubeObject) => (o as unknown as { rules: Rule[] }).rules;
const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', '*'];

describe.each(HELMS)('helm %s', (_version, binary) => {
  test.each(SCENARIOS)('lints ci/%s-values.yaml', async (scenario) => {
    const r = await helm(binary, [
      'lint',
      CHART,
      '--strict',
      '--namespace',
      NAMESPACE,
      '--kube-version',
      KUBE_VERSION,
      '-f',
      `${CHART}/ci/${scenario}-values.yaml`,
    ]);
    expect(r.all).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.exitCode).toBe(0);
  });

  test('lint rejects a key the installer schema does not know', async () => {
    const r = await helm(binary, [
      'lint',
      CHART,
      '--kube-version',
      KUBE_VERSION,
      '--set',
      'pilot.replicas=2',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/replicas/);
  });

  describe.each(SCENARIOS)('ci/%s-values.yaml', (scenario) => {
    let objects: KubeObject[];
    let values: Record<string, unknown>;
    beforeAll(async () => {
      objects = (await renderChart(binary, scenario, ['--api-versions', 'monitoring.coreos.com/v1'])).objects;
      values = (load(readFileSync(`${CHART}/ci/${scenario}-values.yaml`, 'utf8')) ?? {}) as Record<
        string,
        unknown
      >;
    });

    test('every object carries the app.kubernetes.io labels and helm.sh/chart', () => {
      expect(objects.length).toBeGreaterThan(10);
      for (const o of objects) {
        const labels = o.metadata.labels ?? {};
        for (const key of ['name', 'instance', 'version', 'component', 'managed-by'])
          expect([`${o.kind}/${o.metadata.name}`, labels[`app.kubernetes.io/${key}`]]).toEqual([
            `${o.kind}/${o.metadata.name}`,
            expect.any(String),
          ]);
        expect(labels['app.kubernetes.io/instance']).toBe(RELEASE);
        expect(labels['helm.sh/chart']).toMatch(/^(rancher-istio|kiali|tracing)-\d+\.\d+\.\d+/);
      }
    });

    test('every pod is restricted, linux-only, and pulls from the system default registry with its secrets', () => {
      const registry = (values.global as { cattle?: { systemDefaultRegistry?: string } } | undefined)?.cattle
        ?.systemDefaultRegistry;
      expect(workloads(objects).length).toBeGreaterThanOrEqual(2);
      for (const w of workloads(objects)) {
        const pod = podTemplate(w);
        const where = `${w.kind}/${w.metadata.name}`;
        expect([where, pod.spec.securityContext]).toEqual([
          where,
          expect.objectContaining({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }),
        ]);
        expect(pod.spec.nodeSelector?.['kubernetes.io/os']).toBe('linux');
        expect(pod.spec.tolerations).toContainEqual(
          expect.objectContaining({ key: 'cattle.io/os', value: 'linux', effect: 'NoSchedule' }),
        );
        for (const c of allContainers(pod)) {
          expect([where, c.name, c.securityContext]).toEqual([
            where,
            c.name,
            expect.objectContaining({
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            }),
          ]);
          if (registry) expect(c.image.startsWith(`${registry}/`)).toBe(true);
        }
        if (registry) expect(pod.spec.imagePullSecrets).toEqual([{ name: 'private-registry' }]);
      }
    });

    test('install and uninstall Jobs are hooks running `istio-installer run` with the same identity', () => {
      const install = get(objects, 'Job', `${RELEASE}-install`);
      const uninstall = get(objects, 'Job', `${RELEASE}-uninstall`);
      expect(install.metadata.annotations?.['helm.sh/hook']).toBe('post-install,post-upgrade');
      expect(uninstall.metadata.annotations?.['helm.sh/hook']).toBe('pre-delete');
      const pods = [install, uninstall].map(podTemplate);
      for (const [job, action] of [
        [install, 'install'],
        [uninstall, 'uninstall'],
      ] as const) {
        expect(job.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe('before-hook-creation');
        const spec = job.spec as Record<string, unknown>;
        expect(spec.backoffLimit).toEqual(expect.any(Number));
        expect(spec.ttlSecondsAfterFinished).toEqual(expect.any(Number));
        expect(spec.activeDeadlineSeconds).toEqual(expect.any(Number));
        const pod = podTemplate(job);
        expect(pod.metadata.labels).toMatchObject({
          'app.kubernetes.io/name': 'rancher-istio',
          'app.kubernetes.io/component': 'installer',
          'app.kubernetes.io/instance': RELEASE,
        });
        const [c] = pod.spec.containers;
        expect(c?.command).toEqual(['istio-installer']);
        expect(c?.args).toEqual(['run', '--action', action]);
        const env = envOf(c as Container);
        expect(env).toMatchObject({
          RELEASE_NAME: RELEASE,
          ISTIO_NAMESPACE: NAMESPACE,
          CHART_VERSION: CHART_YAML.version,
          VALUES_FILE: '/etc/istio-installer/values/values.yaml',
          OVERLAY_DIR: '/etc/istio-installer/overlays',
          HOME: '/tmp',
          TMPDIR: '/tmp',
        });
        expect(env.FORCE_INSTALL).toBe(String(values.forceInstall) === 'true' ? 'true' : 'false');
        // The lock names its holder by pod, so a later run can tell when that pod is gone.
        const fieldRefs = Object.fromEntries(
          (c?.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
        );
        expect(fieldRefs).toMatchObject({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' });
        expect(c?.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        expect(pod.spec.volumes).toContainEqual({ name: 'tmp', emptyDir: {} });
      }
      expect(pods[0]?.spec.serviceAccountName).toBe(`${RELEASE}-installer`);
      expect(pods[1]?.spec.serviceAccountName).toBe(pods[0]?.spec.serviceAccountName);
      expect(pods[0]?.spec.securityContext?.runAsUser).toBe(65532);
      expect(pods[1]?.spec.securityContext).toEqual(pods[0]?.spec.securityContext);
      // Ours, from installer.image; never Rancher's installer.repository/tag, which Rancher's values carry.
      const installer = values.installer as
        { image?: { repository?: string; tag?: string; digest?: string } } | undefined;
      const repository = installer?.image?.repository ?? 'rancher-istio/istio-installer';
      const image = installer?.image?.digest
        ? `${repository}@${installer.image.digest}`
        : `${repository}:${installer?.image?.tag || CHART_YAML.version}`;
      for (const pod of pods) expect(pod?.spec.containers[0]?.image.endsWith(image)).toBe(true);
    });

    test('the values ConfigMap is what the installer accepts, without overlays; overlays keep their order', () => {
      const data = (
        get(objects, 'ConfigMap', `${RELEASE}-installer-values`) as unknown as {
          data: Record<string, string>;
        }
      ).data;
      const chartValues = load(data['values.yaml'] ?? '') as Record<string, unknown>;
      expect(chartValues).not.toHaveProperty('overlayFile');
      expect(chartValues).not.toHaveProperty('overlays');
      expect(valuesSchema.safeParse(chartValues).error?.issues ?? []).toEqual([]);
      // An empty tag leaves the version to the installer (by the cluster's Kubernetes).
      expect(chartValues.tag).toBe(values.tag ?? '');

      const overlays =
        (
          get(objects, 'ConfigMap', `${RELEASE}-installer-overlays`) as {
            data?: Record<string, string> | null;
          }
        ).data ?? {};
      const expected: unknown[] = [];
      if (values.overlayFile) expected.push(load(values.overlayFile as string));
      for (const o of (values.overlays as unknown[] | undefined) ?? [])
        expected.push(typeof o === 'string' ? load(o) : o);
      const keys = Object.keys(overlays).sort();
      expect(keys.map((k) => load(overlays[k] ?? ''))).toEqual(expected);
      if (values.overlayFile) expect(keys[0]).toBe('00-overlayFile.yaml');
      expect(keys.filter((k) => k.startsWith('10-'))).toEqual(
        ((values.overlays as unknown[] | undefined) ?? []).map(
          (_, i) => `10-overlays-${String(i).padStart(3, '0')}.yaml`,
        ),
      );
    });

    test('RBAC: no wildcard verbs, no pods/exec, writes only on named kinds, escalate/bind only on named roles', () => {
      const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
      expect(roles.length).toBeGreaterThanOrEqual(5);
      for (const role of roles) {
        for (const rule of rules(role)) {
          const where = `${role.kind}/${role.metadata.name} ${JSON.stringify(rule)}`;
          expect([where, rule.verbs.includes('*')]).toEqual([where, false]);
          expect([where, (rule.resources ?? []).some((r) => r === 'pods/exec' || r === '*/*')]).toEqual([
            where,
            false,
          ]);
          if ((rule.resources ?? []).includes('*'))
            expect([where, rule.verbs.filter((v) => WRITE_VERBS.includes(v))]).toEqual([where, []]);
          if (rule.verbs.includes('escalate') || rule.verbs.includes('bind'))
            expect([where, (rule.resourceNames ?? []).length > 0]).toEqual([where, true]);
        }
      }
      const installerRole = get(objects, 'ClusterRole', `${RELEASE}-installer-${NAMESPACE}`);
      const crdRule = rules(installerRole).find((r) => r.resources?.includes('customresourcedefinitions'));
      const purge = (values.uninstall as { purge?: boolean } | undefined)?.purge === true;
      expect(crdRule?.verbs.includes('delete')).toBe(purge);
      // Secrets are read (istioctl analyze) but never written by anybody the chart creates.
      const secretWrites = roles
        .flatMap(rules)
        .filter((r) => r.resources?.includes('secrets') && r.verbs.some((v) => WRITE_VERBS.includes(v)));
      expect(secretWrites).toEqual([]);
      for (const [name, aggregate] of [
        ['istio-admin', 'admin'],
        ['istio-edit', 'edit'],
        ['istio-view', 'view'],
      ] as const) {
        const role = get(objects, 'ClusterRole', name);
        expect(role.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${aggregate}`]).toBe('true');
        const groups = rules(role).flatMap((r) => r.apiGroups ?? []);
        for (const g of [
          'networking.istio.io',
          'security.istio.io',
          'telemetry.istio.io',
          'extensions.istio.io',
        ])
          expect(groups).toContain(g);
        const verbs = new Set(rules(role).flatMap((r) => r.verbs));
        expect(verbs.has('delete')).toBe(aggregate !== 'view');
      }
    });

    test('every container sets CPU and memory requests and limits, so a ResourceQuota admits it', () => {
      for (const w of workloads(objects))
        for (const c of allContainers(podTemplate(w))) {
          const where = `${w.kind}/${w.metadata.name} ${c.name}`;
          expect([where, Object.keys(c.resources?.requests ?? {}).sort()]).toEqual([
            where,
            ['cpu', 'memory'],
          ]);
          expect([where, Object.keys(c.resources?.limits ?? {}).sort()]).toEqual([where, ['cpu', 'memory']]);
        }
    });

    test('no pod gets an API token by default; the Jobs and Kiali, which call the API, mount their own', () => {
      const callers = [`Job/${RELEASE}-install`, `Job/${RELEASE}-uninstall`, 'Deployment/kiali'];
      for (const w of workloads(objects)) {
        const where = `${w.kind}/${w.metadata.name}`;
        const pod = podTemplate(w);
        expect([where, pod.spec.automountServiceAccountToken]).toEqual([where, false]);
        const tokenVolumes = (pod.spec.volumes ?? []).filter((v) =>
          v.projected?.sources.some((source) => source.serviceAccountToken),
        );
        const mounts = pod.spec.containers.flatMap((c) =>
          (c.volumeMounts ?? []).filter((m) => tokenVolumes.some((v) => v.name === m.name)),
        );
        if (callers.includes(where)) {
          expect([where, tokenVolumes.map((v) => v.name)]).toEqual([where, ['kube-api-access']]);
          expect([where, mounts]).toEqual([
            where,
            [
              {
                name: 'kube-api-access',
                mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
                readOnly: true,
              },
            ],
          ]);
        } else expect([where, tokenVolumes]).toEqual([where, []]);
        // Init containers (Kiali's wait for istiod) only dial a port.
        for (const c of pod.spec.initContainers ?? [])
          expect([where, c.name, c.volumeMounts ?? []]).toEqual([where, c.name, []]);
      }
      for (const sa of objects.filter((o) => o.kind === 'ServiceAccount'))
        expect([
          sa.metadata.name,
          (sa as { automountServiceAccountToken?: boolean }).automountServiceAccountToken,
        ]).toEqual([sa.metadata.name, false]);
    });

    test('with networkPolicy.enabled, each pod of the chart has exactly one policy, both ways; none without', () => {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as (KubeObject & {
        spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[] };
      })[];
      const on = (values.networkPolicy as { enabled?: boolean } | undefined)?.enabled === true;
      if (!on) {
        expect(policies).toEqual([]);
        return;
      }
      for (const w of workloads(objects)) {
        const labels = podTemplate(w).metadata.labels;
        const selecting = policies.filter((p) =>
          Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
        );
        const where = `${w.kind}/${w.metadata.name}`;
        expect([where, selecting.length]).toEqual([where, 1]);
        expect([where, selecting[0]?.spec.policyTypes]).toEqual([where, ['Ingress', 'Egress']]);
      }
      // No policy is left over for a pod that is not rendered.
      expect(policies.length).toBe(
        new Set(workloads(objects).map((w) => (w.kind === 'Job' ? 'installer' : w.metadata.name))).size,
      );
    });

    test('optional parts follow their switches: Kiali, Jaeger, release mirror, monitors', () => {
      const on = (key: string, dflt: boolean) => {
        const section = values[key] as { enabled?: boolean } | undefined;
        return section?.enabled ?? dflt;
      };
      expect(Boolean(find(objects, 'Deployment', 'kiali'))).toBe(on('kiali', true));
      const tracing = on('tracing', false);
      expect(Boolean(find(objects, 'Deployment', 'jaeger'))).toBe(tracing);
      for (const [svc, port] of [
        ['tracing', 16686],
        ['zipkin', 9411],
        ['jaeger-collector', 9411],
      ] as const) {
        const s = find(objects, 'Service', svc) as { spec: { ports: { port: number }[] } } | undefined;
        expect(Boolean(s)).toBe(tracing);
        if (s) expect(s.spec.ports.map((p) => p.port)).toContain(port);
      }
      const mirrorOn =
        (values.installer as { releaseMirror?: { enabled?: boolean } } | undefined)?.releaseMirror
          ?.enabled === true;
      const mirror = find(objects, 'Deployment', `${RELEASE}-mirror`);
      expect(Boolean(mirror)).toBe(mirrorOn);
      const env = envOf(
        podTemplate(get(objects, 'Job', `${RELEASE}-install`)).spec.containers[0] as Container,
      );
      expect(env.RELEASE_MIRROR_ENABLED).toBe(String(mirrorOn));
      if (mirror) {
        const pod = podTemplate(mirror);
        expect(pod.metadata.labels['app.kubernetes.io/component']).toBe('mirror');
        const extra = (values.installer as { releaseMirror?: { extraReleases?: { existingClaim?: string } } })
          .releaseMirror?.extraReleases?.existingClaim;
        expect(pod.spec.containers[0]?.args).toEqual([
          'mirror',
          'serve',
          '--dir',
          '/usr/share/istio-mirror',
          ...(extra ? ['--dir', '/var/lib/istio-mirror-extra'] : []),
          '--port',
          '8080',
        ]);
        const svc = get(objects, 'Service', `${RELEASE}-mirror`) as unknown as {
          spec: { ports: { port: number }[] };
        };
        expect(svc.spec.ports.map((p) => p.port)).toEqual([8080]);
        expect(env.RELEASE_MIRROR_URL).toBe(`http://${RELEASE}-mirror.${NAMESPACE}.svc:8080`);
      }
      const monitors = on('monitoring', true);
      expect(Boolean(find(objects, 'ServiceMonitor', `${RELEASE}-istiod`))).toBe(monitors);
      expect(Boolean(find(objects, 'PodMonitor', `${RELEASE}-envoy`))).toBe(monitors);
    });
  });

  test("the mirror serves a volume's releases beside the image's: a claim or any volume, read-only, with a subPath", async () => {
    const mirrorPod = async (extra: string[]) =>
      podTemplate(
        get(
          (await renderChart(binary, undefined, ['--set', 'installer.releaseMirror.enabled=true', ...extra]))
            .objects,
          'Deployment',
          `${RELEASE}-mirror`,
        ),
      ).spec as PodSpec & { volumes: Record<string, unknown>[] };
    const claim = await mirrorPod([
      '--set',
      'installer.releaseMirror.extraReleases.existingClaim=istio-releases',
      '--set',
      'installer.releaseMirror.extraReleases.subPath=site/mirror',
    ]);
    expect(claim.containers[0]!.args).toEqual([
      'mirror',
      'serve',
      '--dir',
      '/usr/share/istio-mirror',
      '--dir',
      '/var/lib/istio-mirror-extra',
      '--port',
      '8080',
    ]);
    expect(claim.containers[0]!.volumeMounts).toContainEqual({
      name: 'extra-releases',
      mountPath: '/var/lib/istio-mirror-extra',
      readOnly: true,
      subPath: 'site/mirror',
    });
    expect(claim.volumes).toContainEqual({
      name: 'extra-releases',
      persistentVolumeClaim: { claimName: 'istio-releases', readOnly: true },
    });
    const nfs = await mirrorPod([
      '--set',
      'installer.releaseMirror.extraReleases.volume.nfs.server=nfs.example.com',
      '--set',
      'installer.releaseMirror.extraReleases.volume.nfs.path=/istio',
    ]);
    expect(nfs.volumes).toContainEqual({
      name: 'extra-releases',
      nfs: { server: 'nfs.example.com', path: '/istio' },
    });
    expect(nfs.containers[0]!.volumeMounts).toContainEqual({
      name: 'extra-releases',
      mountPath: '/var/lib/istio-mirror-extra',
      readOnly: true,
    });
    const plain = await mirrorPod([]);
    expect(plain.containers[0]!.args).not.toContain('/var/lib/istio-mirror-extra');
    expect(plain.volumes.map((v) => v.name)).toEqual(['tmp']);

    const both = await helm(binary, [
      'template',
      RELEASE,
      CHART,
      '--set',
      'installer.releaseMirror.enabled=true,installer.releaseMirror.extraReleases.existingClaim=a',
      '--set',
      'installer.releaseMirror.extraReleases.volume.nfs.server=b',
    ]);
    expect(both.exitCode).not.toBe(0);
    expect(both.all).toContain('set existingClaim or volume, not both');
    const escape = await helm(binary, [
      'template',
      RELEASE,
      CHART,
      '--set',
      'installer.releaseMirror.enabled=true,installer.releaseMirror.extraReleases.existingClaim=a',
      '--set',
      'installer.releaseMirror.extraReleases.subPath=../etc',
    ]);
    expect(escape.exitCode).not.toBe(0);
  });

  test('a digest pins each image the chart renders: <registry>/<repository>@<digest>, the tag unused', async () => {
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const { objects } = await renderChart(binary, undefined, [
      '--set',
      'global.cattle.systemDefaultRegistry=registry.example.com:5000',
      '--set',
      'installer.releaseMirror.enabled=true,tracing.enabled=true',
      '--set',
      `installer.image.digest=${digest('a')},installer.image.tag=9.9.9`,
      '--set',
      `kiali.image.digest=${digest('b')},tracing.image.digest=${digest('c')}`,
    ]);
    const images = Object.fromEntries(
      workloads(objects).map((w) => [
        `${w.kind}/${w.metadata.name}`,
        [...new Set(allContainers(podTemplate(w)).map((c) => c.image))],
      ]),
    );
    const installer = [`registry.example.com:5000/rancher-istio/istio-installer@${digest('a')}`];
    expect(images).toEqual({
      [`Job/${RELEASE}-install`]: installer,
      [`Job/${RELEASE}-uninstall`]: installer,
      [`Deployment/${RELEASE}-mirror`]: installer,
      'Deployment/kiali': [`registry.example.com:5000/kiali/kiali@${digest('b')}`],
      'Deployment/jaeger': [`registry.example.com:5000/jaegertracing/jaeger@${digest('c')}`],
    });
  });

  test.each([
    ['installer.image.digest', '1.31.0'],
    ['kiali.image.digest', `sha256:${'A'.repeat(64)}`],
    ['tracing.image.digest', `sha512:${'0'.repeat(64)}`],
  ])('values.schema.json refuses %s=%s', async (key, value) => {
    const r = await helm(binary, ['template', RELEASE, CHART, '--set', `${key}=${value}`]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain(`at '/${key.replaceAll('.', '/')}': '${value}' does not match pattern`);
  });

  test('NetworkPolicies admit only what each pod needs', async () => {
    type Peer = {
      podSelector?: { matchLabels: Record<string, string> };
      namespaceSelector?: { matchLabels: Record<string, string> };
      ipBlock?: { cidr: string };
    };
    type Rule = { to?: Peer[]; from?: Peer[]; ports?: { protocol: string; port: number }[] };
    const policiesOf = async (extra: string[]) =>
      Object.fromEntries(
        (await renderChart(binary, undefined, ['--set', 'networkPolicy.enabled=true', ...extra])).objects
          .filter((o) => o.kind === 'NetworkPolicy')
          .map((o) => [
            o.metadata.name,
            (o as unknown as { spec: { ingress?: Rule[]; egress?: Rule[] } }).spec,
          ]),
      );
    const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
    const dns = { ports: [{ protocol: 'UDP', port: 53 }, ...tcp(53)] };
    const installerPods = {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'rancher-istio',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/component': 'installer',
        },
      },
    };
    const mirrorPods = {
      podSelector: {
        matchLabels: { ...installerPods.podSelector.matchLabels, 'app.kubernetes.io/component': 'mirror' },
      },
    };

    // Defaults: Kiali on, no mirror, no Jaeger; the API server anywhere on 443 and 6443.
    const plain = await policiesOf([]);
    expect(Object.keys(plain).sort()).toEqual(['kiali', `${RELEASE}-installer`]);
    expect(plain[`${RELEASE}-installer`]).toMatchObject({ egress: [{ ports: tcp(443, 6443) }, dns] });
    expect(plain[`${RELEASE}-installer`]?.ingress).toBeUndefined();
    expect(plain.kiali?.ingress).toEqual([{ ports: tcp(20001, 9090) }]);
    expect(plain.kiali?.egress).toEqual([
      { ports: tcp(443, 6443) },
      dns,
      { to: [{ podSelector: { matchLabels: { app: 'istiod' } } }], ports: tcp(15014) },
      // rancher-monitoring's Prometheus and Grafana, from Kiali's default external_services URLs.
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cattle-monitoring-system' } },
          },
        ],
      },
    ]);

    const full = await policiesOf([
      '--set',
      'installer.releaseMirror.enabled=true,tracing.enabled=true,kiali.external_services.tracing.enabled=true',
      '--set',
      'networkPolicy.apiServer.cidrs={10.43.0.1/32},networkPolicy.apiServer.ports={6443}',
      '--set',
      'kiali.external_services.prometheus.url=http://prometheus.monitoring.svc:9090',
      '--set',
      'kiali.external_services.prometheus.custom_metrics_url=http://prometheus.monitoring.svc:9090',
      '--set',
      'kiali.external_services.grafana.enabled=false',
    ]);
    const apiServer = { ports: tcp(6443), to: [{ ipBlock: { cidr: '10.43.0.1/32' } }] };
    expect(full[`${RELEASE}-installer`]?.egress).toEqual([
      apiServer,
      dns,
      { to: [mirrorPods], ports: tcp(8080) },
    ]);
    // The mirror answers the Jobs only, and calls nobody.
    expect(full[`${RELEASE}-mirror`]).toMatchObject({
      ingress: [{ ports: tcp(8080), from: [installerPods] }],
    });
    expect(full[`${RELEASE}-mirror`]?.egress).toBeUndefined();
    expect(full.kiali?.egress).toEqual([
      apiServer,
      dns,
      { to: [{ podSelector: { matchLabels: { app: 'istiod' } } }], ports: tcp(15014) },
      {
        to: [
          {
            podSelector: {
              matchLabels: { 'app.kubernetes.io/name': 'jaeger', 'app.kubernetes.io/instance': RELEASE },
            },
          },
        ],
        ports: tcp(16686, 16685),
      },
      // Jaeger's URL names this namespace, which the rule above covers; the moved Prometheus is in `monitoring`.
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
    ]);
    expect(full.jaeger?.ingress).toEqual([{ ports: tcp(16686, 16685, 9411, 4317, 4318, 14250, 14268) }]);
    expect(full.jaeger?.egress).toBeUndefined();

    // A mirror Service exposed outside the cluster takes its port from anywhere; extra egress rules are appended.
    const exposed = await policiesOf([
      '--set',
      'installer.releaseMirror.enabled=true,installer.releaseMirror.service.type=NodePort',
      '--set',
      'networkPolicy.installer.extraEgress[0].to[0].ipBlock.cidr=192.168.20.5/32',
      '--set',
      'networkPolicy.installer.extraEgress[0].ports[0].port=3128',
    ]);
    expect(exposed[`${RELEASE}-mirror`]?.ingress).toEqual([{ ports: tcp(8080) }]);
    expect(exposed[`${RELEASE}-installer`]?.egress?.at(-1)).toEqual({
      to: [{ ipBlock: { cidr: '192.168.20.5/32' } }],
      ports: [{ port: 3128 }],
    });
  });

  test('monitors are not rendered where the monitoring.coreos.com/v1 API is absent', async () => {
    const { objects } = await renderChart(binary, 'everything');
    expect(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
  });

  test('escalate/bind name the roles of every gateway, including those that overlays and revisions add', async () => {
    const { objects } = await renderChart(binary, 'everything');
    const role = get(objects, 'Role', `${RELEASE}-installer`);
    const names = rules(role).find((r) => r.verbs.includes('escalate'))?.resourceNames;
    expect(names?.sort()).toEqual(
      [
        'istiod',
        'istiod-canary',
        // The transit revisions of a stepped upgrade to the newest bundled 1.31: every minor below it, from 1.20.
        ...[20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30].map((minor) => `istiod-1-${minor}`),
        'istio-ingressgateway-sds',
        'istio-egressgateway-sds',
        'internal-ingress-sds',
        'extra-gateway-sds',
      ].sort(),
    );
    const clusterNames = rules(get(objects, 'ClusterRole', `${RELEASE}-installer-${NAMESPACE}`)).find((r) =>
      r.verbs.includes('escalate'),
    )?.resourceNames;
    expect(clusterNames).toEqual(
      expect.arrayContaining([
        'istiod-clusterrole-istio-system',
        'istiod-clusterrole-canary-istio-system',
        'istio-cni',
        'istio-cni-repair-role',
      ]),
    );
  });

  test("escalate/bind name the transit revisions of every stepped path from Rancher's lines, as the installer names them", async () => {
    const { objects } = await renderChart(binary, undefined);
    const role = rules(get(objects, 'Role', `${RELEASE}-installer`)).find((r) =>
      r.verbs.includes('escalate'),
    );
    const clusterRole = rules(get(objects, 'ClusterRole', `${RELEASE}-installer-${NAMESPACE}`)).find((r) =>
      r.verbs.includes('escalate'),
    );
    // With `tag` empty the Job may choose any bundled version (by the cluster's Kubernetes), each a path's target.
    expect((load(readFileSync(`${CHART}/values.yaml`, 'utf8')) as { tag: string }).tag).toBe('');
    // Each patch a hop could use: the installer picks the newest its istioctl sources have, unknown at render time.
    const available = ['1.24.3', '1.25.0', '1.25.9', '1.26.2', '1.27.3', '1.28.1', '1.29.1', '1.29.8'];
    for (const target of BUNDLED_ISTIO_VERSIONS.map(version))
      for (const start of ['1.19.6', '1.21.0', '1.23.2', '1.24.1', '1.25.0', '1.27.3', '1.29.1']) {
        // Through every istioctl at hand, and through as few as the bundled ones.
        for (const at of [available, [...BUNDLED_ISTIO_VERSIONS]])
          for (const hop of (upgradePath(version(start), target, at) ?? []).slice(0, -1)) {
            const revision = transitRevisionName(
              version(hop.version.split('.').length === 2 ? `${hop.version}.0` : hop.version),
            );
            expect([start, role?.resourceNames]).toEqual([
              start,
              expect.arrayContaining([`istiod-${revision}`]),
            ]);
            expect([start, clusterRole?.resourceNames]).toEqual([
              start,
              expect.arrayContaining(
                ['istiod-clusterrole', 'istiod-gateway-controller', 'istio-reader-clusterrole'].map(
                  (name) => `${name}-${revision}-${NAMESPACE}`,
                ),
              ),
            ]);
          }
        // The last hop installs the target's own revision.
        expect(role?.resourceNames).toEqual(expect.arrayContaining([`istiod-${revisionName(target)}`]));
      }
  });

  test('a gateway in another namespace gets the installer a Role there, and only there', async () => {
    const { objects } = await renderChart(binary, 'defaults', [
      '--set',
      'ingressGateways.extra[0].name=edge',
      '--set',
      'ingressGateways.extra[0].namespace=edge-system',
    ]);
    const installerRoles = objects.filter(
      (o) => o.kind === 'Role' && o.metadata.name === `${RELEASE}-installer`,
    );
    expect(installerRoles.map((r) => r.metadata.namespace).sort()).toEqual(['edge-system', NAMESPACE]);
    const edge = installerRoles.find((r) => r.metadata.namespace === 'edge-system') as KubeObject;
    expect(rules(edge).find((r) => r.verbs.includes('escalate'))?.resourceNames).toEqual(['edge-sds']);
    expect(find(objects, 'RoleBinding', `${RELEASE}-installer`)).toBeDefined();
  });

  test('proxy settings reach both Jobs in both spellings; unset ones are absent', async () => {
    const every = await renderChart(binary, 'everything');
    const env = envOf(
      podTemplate(get(every.objects, 'Job', `${RELEASE}-uninstall`)).spec.containers[0] as Container,
    );
    expect(env).toMatchObject({
      HTTP_PROXY: 'http://proxy.example.com:3128',
      http_proxy: 'http://proxy.example.com:3128',
      NO_PROXY: '.svc,.cluster.local,10.0.0.0/8',
      no_proxy: '.svc,.cluster.local,10.0.0.0/8',
    });
    const defaults = await renderChart(binary, 'defaults');
    const plain = envOf(
      podTemplate(get(defaults.objects, 'Job', `${RELEASE}-install`)).spec.containers[0] as Container,
    );
    expect(Object.keys(plain).filter((k) => /proxy/i.test(k))).toEqual([]);
  });
});

describe('NOTES say which Istio an empty `tag` installs, as the installer decides it', () => {
  // NOTES.txt is only rendered by an install; a copy of the chart wraps it in a ConfigMap that `helm template` shows.
  const chart = mkdtempSync(join(tmpdir(), 'chart-notes-'));
  beforeAll(() => {
    cpSync(CHART, chart, { recursive: true });
    const notes = readFileSync(`${CHART}/templates/NOTES.txt`, 'utf8');
    writeFileSync(
      join(chart, 'templates', '_notes-under-test.tpl'),
      `{{- define "notes-under-test" -}}\n${notes}\n{{- end -}}\n`,
    );
    writeFileSync(
      join(chart, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes-under-test}\ndata: {notes: {{ include "notes-under-test" . | toJson }}}\n',
    );
  });
  afterAll(() => rmSync(chart, { recursive: true, force: true }));

  const notesOn = async (kube: string, extra: string[] = []) => {
    const r = await helm(HELMS[0][1], [
      'template',
      RELEASE,
      chart,
      '-n',
      NAMESPACE,
      '--kube-version',
      kube,
      '--show-only',
      'templates/notes-under-test.yaml',
      ...extra,
    ]);
    if (r.exitCode !== 0) throw new Error(String(r.all));
    return String((load(r.stdout) as { data: { notes: string } }).data.notes);
  };

  test.each(['v1.29.4', 'v1.31.7', 'v1.32.2', 'v1.36.3', 'v1.37.0'])('on Kubernetes %s', async (kube) => {
    const k = parseKubeVersion(kube);
    if (!k) throw new Error(kube);
    const auto = autoTarget([...BUNDLED_ISTIO_VERSIONS], k);
    const notes = await notesOn(kube);
    expect(notes).toContain(
      `install Istio ${auto.target ? formatIstioVersion(auto.target) : '?'} in namespace`,
    );
    const held = heldBackLine(auto, k);
    if (held) expect(notes).toContain(`${held}.`);
    else expect(notes).not.toMatch(/needs Kubernetes/);
  });

  test('Rancher 2.12 on Kubernetes 1.31 is told what was held back and why', async () => {
    expect(await notesOn('v1.31.7')).toContain(
      'Istio 1.31.0 needs Kubernetes >= 1.32; this cluster runs 1.31: installed 1.29.6; upgrade Kubernetes, then upgrade again.',
    );
  });

  test('an explicit tag is named as it is, with nothing chosen for it', async () => {
    const notes = await notesOn('v1.31.7', ['--set', 'tag=1.29.6']);
    expect(notes).toContain('install Istio 1.29.6 in namespace istio-system.');
    expect(notes).not.toMatch(/needs Kubernetes|`tag` is empty/);
  });
});
