// Tests of the rig itself: which pods run for real and which kwok fakes, stopping deleted pods, the bounded
// lifetime, and `cluster:up` / `cluster:down`.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PassThrough } from 'node:stream';
import { CriLogWriter } from './cri-log.js';
import { isProcessKubeletPod } from './kwok-config.js';
import { KubeHttp, type KubeCredentials } from './kube-http.js';
import { expandVars } from './process-kubelet.js';
import { REPO_ROOT } from './image.js';
import { startCluster, type Cluster } from './rig.js';
import { eventually, podFinished } from './testkit.js';
import { toolPaths } from './tools.js';
import { parse } from 'yaml';

describe('process kubelet pod selection, CRI logs and $(VAR) expansion', () => {
  test('installer pods need both chart labels; the rig label alone is enough', () => {
    const installer = {
      'app.kubernetes.io/name': 'rancher-istio',
      'app.kubernetes.io/component': 'installer',
    };
    expect(isProcessKubeletPod(installer)).toBe(true);
    expect(isProcessKubeletPod({ 'app.kubernetes.io/name': 'rancher-istio' })).toBe(false);
    expect(isProcessKubeletPod({ ...installer, 'app.kubernetes.io/name': 'kiali' })).toBe(false);
    expect(isProcessKubeletPod({ 'rancher-istio.test/process-kubelet': 'true' })).toBe(true);
    // The chart's release mirror is served for real; other components of the chart (its dashboards) are not.
    expect(isProcessKubeletPod({ ...installer, 'app.kubernetes.io/component': 'mirror' })).toBe(true);
    expect(isProcessKubeletPod({ ...installer, 'app.kubernetes.io/component': 'dashboards' })).toBe(false);
    expect(isProcessKubeletPod(undefined)).toBe(false);
  });

  test('CRI log lines: one per complete line and stream, partial lines held until their newline or the end', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const cri = new CriLogWriter(out, () => new Date('2026-01-02T03:04:05.678Z'));
    cri.write('stdout', 'one\ntw');
    cri.write('stderr', 'err\n');
    cri.write('stdout', 'o\nthree');
    cri.end();
    const t = '2026-01-02T03:04:05.678Z';
    expect(text).toBe(`${t} stdout F one\n${t} stderr F err\n${t} stdout F two\n${t} stdout F three\n`);
  });

  test('expands known variables, keeps unknown ones, $$ escapes', () => {
    expect(expandVars('a=$(A) b=$(B) $$(A)', { A: '1' })).toBe('a=1 b=$(B) $(A)');
  });
});

describe('a running rig', () => {
  let cluster: Cluster;
  const ns = 'default';

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 2 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const createPod = (name: string, labels: Record<string, string>, script: string) =>
    cluster.kube.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name, labels },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'x/y:1', command: ['/bin/sh', '-c', script] }],
      },
    });

  test('installer-labelled pods run as processes; other pods are only faked Running by kwok', async () => {
    await createPod(
      'installer',
      { 'app.kubernetes.io/name': 'rancher-istio', 'app.kubernetes.io/component': 'installer' },
      'echo ran for real',
    );
    await createPod('bystander', { 'app.kubernetes.io/name': 'rancher-istio' }, 'echo should never run');

    expect((await podFinished(cluster, ns, 'installer')).phase).toBe('Succeeded');
    expect(cluster.podLogs(ns, 'installer')).toBe('ran for real\n');
    // The same log through the apiserver, which proxies to kwok's kubelet server.
    const viaApi = await cluster.kubectl(['logs', 'installer', '-n', ns]);
    expect(viaApi.stderr).toBe('');
    expect(viaApi.stdout).toBe('ran for real');

    const bystander = await eventually('kwok to make the bystander Ready', 60_000, async () => {
      const pod = await cluster.kube.get<{ status?: { phase?: string; podIP?: string } }>(
        `/api/v1/namespaces/${ns}/pods/bystander`,
      );
      return pod.status?.phase === 'Running' ? pod : undefined;
    });
    expect(bystander.status?.podIP).toMatch(/^10\.244\./);
    expect(cluster.podLogs(ns, 'bystander')).toBe('');
  });

  test('a container without command runs the image ENTRYPOINT, istio-installer of this checkout', async () => {
    await cluster.kube.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: 'entrypoint', labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'installer', image: 'x/installer:1', args: ['--version'] }],
      },
    });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const status = await podFinished(cluster, ns, 'entrypoint');
    expect(cluster.podLogs(ns, 'entrypoint')).toContain(pkg.version);
    expect(status.phase).toBe('Succeeded');
  });

  test('deleting a running pod stops its process', async () => {
    await createPod(
      'sleeper',
      { 'rancher-istio.test/process-kubelet': 'true' },
      'trap "echo got SIGTERM; exit 0" TERM; echo started; while :; do sleep 0.2; done',
    );
    await eventually('the sleeper to start', 60_000, async () =>
      cluster.podLogs(ns, 'sleeper').includes('started') ? true : undefined,
    );
    await cluster.kube.delete(`/api/v1/namespaces/${ns}/pods/sleeper`);
    await eventually('the sleeper to get SIGTERM', 30_000, async () =>
      cluster.podLogs(ns, 'sleeper').includes('got SIGTERM') ? true : undefined,
    );
  });
});

/** The admin credentials of a kubeconfig the rig wrote (data inline), as the files KubeHttp reads, kept in `dir`. */
function credentialsOf(kubeconfig: string, dir: string): KubeCredentials {
  const config = parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const [cluster, user] = [config.clusters[0]?.cluster, config.users[0]?.user];
  if (!cluster || !user) throw new Error(`${kubeconfig}: no cluster or user`);
  const file = (name: string, base64: string) => {
    writeFileSync(join(dir, name), Buffer.from(base64, 'base64'), { mode: 0o600 });
    return join(dir, name);
  };
  return {
    server: cluster.server,
    ca: file('ca.crt', cluster['certificate-authority-data']),
    cert: file('admin.crt', user['client-certificate-data']),
    key: file('admin.key', user['client-key-data']),
  };
}

describe('a Kubernetes 1.32 rig (what Rancher 2.12 clusters run)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 10 * 60_000, nodes: 1, kube: '1.32' });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('apiserver, kubectl and nodes report v1.32; a Deployment becomes a Ready pod; a pod runs for real', async () => {
    const version = await cluster.kubectl(['version', '-o', 'json']);
    const { clientVersion, serverVersion } = JSON.parse(String(version.stdout)) as Record<
      'clientVersion' | 'serverVersion',
      { gitVersion: string; minor: string }
    >;
    expect(serverVersion).toMatchObject({ gitVersion: expect.stringMatching(/^v1\.32\.\d+$/), minor: '32' });
    expect(clientVersion.gitVersion).toBe(serverVersion.gitVersion);
    expect(cluster.kubeVersion).toBe(serverVersion.gitVersion);
    const nodes = await cluster.kube.get<{ items: { status: { nodeInfo: { kubeletVersion: string } } }[] }>(
      '/api/v1/nodes',
    );
    expect(nodes.items.map((n) => n.status.nodeInfo.kubeletVersion)).toEqual([serverVersion.gitVersion]);

    // The controller manager (Deployment -> ReplicaSet -> Pod), the scheduler and kwok at work.
    const web = await cluster.kubectl(['create', 'deployment', 'web', '--image=example.com/web:1']);
    expect(web.stderr).toBe('');
    const rollout = await cluster.kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s']);
    expect(rollout.stdout).toContain('successfully rolled out');

    // The process kubelet: a pod that runs for real, its log through the 1.32 apiserver.
    await cluster.kube.post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'real', labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'x/y:1', command: ['/bin/sh', '-c', 'echo ran on 1.32'] }],
      },
    });
    expect((await podFinished(cluster, 'default', 'real')).phase).toBe('Succeeded');
    expect((await cluster.kubectl(['logs', 'real'])).stdout).toBe('ran on 1.32');
  });
});

describe('lifetime and the cluster:up / cluster:down commands', () => {
  test('a cluster stops by itself once its lifetime is over', async () => {
    // Long enough to start on a busy machine (the lifetime also bounds the start), short enough to wait for.
    const cluster = await startCluster({ lifetimeMs: 45_000, nodes: 1 });
    await cluster.kube.get('/readyz');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      cluster.stopped.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 120_000))),
    ]);
    clearTimeout(timer);
    expect(stopped).toBe(true);
    await expect(cluster.kube.get('/readyz')).rejects.toThrow();
    expect(existsSync(cluster.dir)).toBe(false);
  });

  test('up leaves a running cluster and its kubeconfig; down stops it', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'rig-cli-'));
    const credentialsDir = mkdtempSync(join(tmpdir(), 'rig-cli-credentials-'));
    const env = { RANCHER_ISTIO_CLUSTER_DIR: stateDir };
    const cli = join(REPO_ROOT, 'test', 'cluster', 'cli.ts');
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    try {
      const up = await execa(tsx, [cli, 'up', '--lifetime', '10'], { env, reject: false });
      expect(up.stderr).toContain('cluster: up at');
      expect(up.exitCode).toBe(0);
      const kubeconfig = up.stdout.trim();
      expect(kubeconfig).toBe(join(stateDir, 'kubeconfig'));
      const nodes = await execa(toolPaths().kubectl, [
        `--kubeconfig=${kubeconfig}`,
        'get',
        'nodes',
        '-o',
        'name',
      ]);
      expect(nodes.stdout.split('\n')).toHaveLength(3);

      // One check before and after down, with the cluster's own CA and admin certificate: it passes while the
      // apiserver is up, so its failure after down (the connection refused, not a TLS error) means down stopped it.
      const readyz = new KubeHttp(credentialsOf(kubeconfig, credentialsDir));
      await expect(readyz.get('/readyz')).resolves.toBe('ok');
      const down = await execa(tsx, [cli, 'down'], { env, reject: false });
      expect(down.exitCode).toBe(0);
      expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
      expect(existsSync(kubeconfig)).toBe(false);
      await expect(readyz.get('/readyz')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await execa(tsx, [cli, 'down'], { env, reject: false });
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(credentialsDir, { recursive: true, force: true });
    }
  });
});
