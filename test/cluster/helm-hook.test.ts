// Smoke test of the rig with real helm: a chart's post-install hook Job runs through the process kubelet (volumes,
// token, env, image tools), its failure fails `helm install`, and ordinary pods are faked Ready by kwok.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startCluster, type Cluster } from './rig.js';
import { ISTIO_VERSIONS } from './tools.js';
import { podFinished } from './testkit.js';

const [OLDER, NEWER] = ISTIO_VERSIONS;

const HOOK_SCRIPT = `set -e
echo "pod=$POD_NAME"
echo "namespace-file=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
test -s /var/run/secrets/kubernetes.io/serviceaccount/token
grep -q 'BEGIN CERTIFICATE' /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
echo "configmap-file=$(cat /etc/smoke/greeting)"
echo "configmap-env=$GREETING"
echo "api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
echo "path-istioctl=$(istioctl version --remote=false --short 2>/dev/null || istioctl version --remote=false)"
echo "dir-istioctl=$("$ISTIOCTL_DIR/${OLDER}/istioctl" version --remote=false --short 2>/dev/null || true)"
echo "installer=$(command -v istio-installer)"
exit "$EXIT_CODE"
`;

function writeSmokeChart(dir: string): void {
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: rig-smoke\nversion: 0.1.0\n');
  writeFileSync(join(dir, 'values.yaml'), 'exitCode: 0\n');
  writeFileSync(
    join(dir, 'templates', 'objects.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: hello from a configmap
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 2
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: registry.invalid/never-pulled:1
`,
  );
  writeFileSync(
    join(dir, 'templates', 'hook.yaml'),
    `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        rancher-istio.test/process-kubelet: "true"
    spec:
      restartPolicy: Never
      containers:
      - name: hook
        image: registry.invalid/rig-process:1
        command: ["/bin/sh", "-c", {{ .Files.Get "hook.sh" | quote }}]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: EXIT_CODE
          value: {{ .Values.exitCode | quote }}
        - name: GREETING
          valueFrom: {configMapKeyRef: {name: {{ .Release.Name }}-config, key: greeting}}
        volumeMounts:
        - {name: config, mountPath: /etc/smoke, readOnly: true}
      volumes:
      - name: config
        configMap: {name: {{ .Release.Name }}-config}
`,
  );
  writeFileSync(join(dir, 'hook.sh'), HOOK_SCRIPT);
}

describe('helm hooks on the rig', () => {
  let cluster: Cluster;
  let work: string;
  let chart: string;

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 2 });
    work = mkdtempSync(join(tmpdir(), 'rig-helm-'));
    chart = join(work, 'chart');
    writeSmokeChart(chart);
  });

  afterAll(async () => {
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const helm = (binary: string, args: string[]) =>
    execa(binary, [...args, `--kubeconfig=${cluster.kubeconfigPath}`], {
      reject: false,
      all: true,
      env: {
        HELM_CACHE_HOME: join(work, 'helm-cache'),
        HELM_CONFIG_HOME: join(work, 'helm-config'),
        HELM_DATA_HOME: join(work, 'helm-data'),
      },
    });

  async function hookPod(namespace: string, release: string): Promise<string> {
    const pods = await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
      `/api/v1/namespaces/${namespace}/pods?labelSelector=job-name%3D${release}-hook`,
    );
    const name = pods.items[0]?.metadata.name;
    if (!name) throw new Error(`no hook pod for ${release}`);
    return name;
  }

  test.each([
    ['v3', 'helm3'],
    ['v4', 'helm4'],
  ] as const)('helm %s install runs the post-install hook Job as a real process', async (_v, tool) => {
    const ns = `hooks-${tool}`;
    const release = `ok-${tool}`;
    const r = await helm(cluster.tools[tool], [
      'install',
      release,
      chart,
      '-n',
      ns,
      '--create-namespace',
      '--wait',
      '--timeout=3m',
    ]);
    expect(r.all).not.toMatch(/Error/);
    expect(r.exitCode).toBe(0);

    const pod = await hookPod(ns, release);
    const status = await podFinished(cluster, ns, pod);
    expect(status.phase).toBe('Succeeded');
    const log = cluster.podLogs(ns, pod);
    expect(log).toContain(`pod=${pod}`);
    expect(log).toContain(`namespace-file=${ns}`);
    expect(log).toContain('configmap-file=hello from a configmap');
    expect(log).toContain('configmap-env=hello from a configmap');
    expect(log).toContain(`api=127.0.0.1:${new URL(cluster.server).port}`);
    expect(log).toMatch(new RegExp(`path-istioctl=.*${NEWER?.replace(/\./g, '\\.')}`));
    expect(log).toMatch(new RegExp(`dir-istioctl=.*${OLDER?.replace(/\./g, '\\.')}`));
    expect(log).toMatch(/installer=\/.*istio-installer/);
    expect((await cluster.kubectl(['logs', '-n', ns, `job/${release}-hook`])).stdout).toBe(log.trimEnd());

    // The chart's Deployment pods never ran anywhere: kwok made them Ready, which is what --wait waited for.
    const deploy = await cluster.kube.get<{ status?: { readyReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${ns}/deployments/${release}-web`,
    );
    expect(deploy.status?.readyReplicas).toBe(2);
  });

  test('a failing hook Job makes helm install fail, with the exit code on the pod', async () => {
    const ns = 'hooks-fail';
    const release = 'fails';
    const r = await helm(cluster.tools.helm3, [
      'install',
      release,
      chart,
      '-n',
      ns,
      '--create-namespace',
      '--wait',
      '--timeout=3m',
      '--set',
      'exitCode=3',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/post-install|hook/i);
    expect(r.all).toMatch(/BackoffLimitExceeded|failed/i);

    const pod = await hookPod(ns, release);
    const status = await podFinished(cluster, ns, pod);
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);
    expect(cluster.podLogs(ns, pod)).toContain('configmap-file=hello from a configmap');
  });
});
