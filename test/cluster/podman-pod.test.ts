// The rig's podman mode: installer pods run as Podman containers of the locally built product image under the pod's
// securityContext, with its volumes, token and env, in the rig's namespace; and what it refuses, as a kubelet does.
// Needs Podman and the image (`npm run image`); .ci/run builds it before the cluster tier.
import { join } from 'node:path';
import { startCluster, type Cluster } from './rig.js';
import { imageTag, packageVersion } from '../container/local-image.js';
import { writeContainersConf } from '../container/podman.js';
import {
  choosePodRuntime,
  ContainerNotStarted,
  localImageFor,
  PodmanPods,
  podmanRunArgs,
  resourceOptions,
  securityOptions,
  stopMessage,
  type SecurityContext,
} from './podman-pod.js';
import { eventually, podFinished } from './testkit.js';

/** The chart's pod and container securityContext (charts/rancher-istio/templates/_helpers.tpl). */
const CHART_POD: SecurityContext = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};
const CHART_CONTAINER: SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('podman mode, pure parts', () => {
  test('the product image by name at its tag, from any registry; other images stay processes', () => {
    expect(localImageFor('rancher-istio/istio-installer:0.1.0')).toBe('localhost/istio-installer:0.1.0');
    expect(localImageFor('registry.example.com:5000/team/istio-installer:1.2@sha256:ab')).toBe(
      'localhost/istio-installer:1.2',
    );
    expect(localImageFor('istio-installer')).toBe('localhost/istio-installer:latest');
    expect(localImageFor('rancher/istio-installer-extra:1')).toBeUndefined();
    expect(localImageFor('docker.io/istio/pilot:1.31.0')).toBeUndefined();
  });

  test('limits become cgroup limits (memory without swap, CPUs); requests place nothing', () => {
    // The installer Jobs' defaults (charts/rancher-istio values.yaml).
    expect(
      resourceOptions({ requests: { cpu: '250m', memory: '384Mi' }, limits: { cpu: '1', memory: '1Gi' } }),
    ).toEqual(['--memory', '1073741824', '--memory-swap', '1073741824', '--cpus', '1']);
    expect(resourceOptions({ limits: { cpu: '500m', memory: '256M' } })).toEqual([
      '--memory',
      '256000000',
      '--memory-swap',
      '256000000',
      '--cpus',
      '0.5',
    ]);
    expect(resourceOptions({ requests: { cpu: '10m' } })).toEqual([]);
    expect(resourceOptions(undefined)).toEqual([]);
    expect(() => resourceOptions({ limits: { memory: '1e3' } })).toThrow(ContainerNotStarted);
  });

  test("the chart's securityContext becomes user, groups, read-only root, no capabilities, no new privileges", () => {
    expect(securityOptions(CHART_POD, CHART_CONTAINER, '65532:65532')).toEqual([
      '--user',
      '65532:65532',
      '--group-add',
      '65532',
      '--read-only',
      '--read-only-tmpfs=false',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
    ]);
    // The container's fields win over the pod's; nothing set means the image's user and Podman's defaults.
    expect(
      securityOptions({ runAsUser: 1 }, { runAsUser: 2, capabilities: { add: ['NET_ADMIN'] } }, ''),
    ).toEqual(['--user', '2', '--cap-add', 'NET_ADMIN']);
    expect(securityOptions(undefined, { seccompProfile: { type: 'Unconfined' } }, '')).toEqual([
      '--security-opt',
      'seccomp=unconfined',
    ]);
    expect(securityOptions(undefined, undefined, '65532')).toEqual([]);
  });

  test('runAsNonRoot refuses a root user, as a kubelet does, and an unverifiable one', () => {
    const refusal = (pod: SecurityContext, user: string) => {
      try {
        securityOptions(pod, {}, user);
        return undefined;
      } catch (err) {
        return err instanceof ContainerNotStarted ? `${err.reason}: ${err.message}` : String(err);
      }
    };
    expect(refusal({ runAsNonRoot: true, runAsUser: 0 }, '65532')).toBe(
      'CreateContainerConfigError: container has runAsNonRoot and image will run as root',
    );
    expect(refusal({ runAsNonRoot: true }, '')).toBe(
      'CreateContainerConfigError: container has runAsNonRoot and image will run as root',
    );
    expect(refusal({ runAsNonRoot: true }, 'nobody')).toMatch(/non-numeric user \(nobody\)/);
    expect(refusal({ runAsNonRoot: true }, '65532:65532')).toBeUndefined();
  });

  test('podman run argv: host network of the rig, never a pull, command as entrypoint, args after the image', () => {
    expect(
      podmanRunArgs({
        name: 'rig-uid-installer',
        image: 'localhost/istio-installer:0.1.0',
        hostname: 'p',
        labels: { a: 'b' },
        timeoutSeconds: 60,
        security: ['--cap-drop', 'ALL'],
        mounts: [{ source: '/h/values', target: '/etc/v', readOnly: true }],
        env: { K: 'v' },
        command: ['istio-installer'],
        args: ['run', '--action', 'install'],
      }),
    ).toEqual([
      'run',
      '--rm',
      '--name',
      'rig-uid-installer',
      '--pull',
      'never',
      '--network',
      'host',
      '--hostname',
      'p',
      '--label',
      'a=b',
      '--timeout',
      '60',
      '--cap-drop',
      'ALL',
      '-v',
      '/h/values:/etc/v:ro',
      '--env',
      'K=v',
      '--entrypoint',
      '["istio-installer"]',
      'localhost/istio-installer:0.1.0',
      'run',
      '--action',
      'install',
    ]);
  });

  test('RANCHER_ISTIO_POD_RUNTIME: process is taken as asked, an unknown value is refused naming the choices', async () => {
    const choose = (requested: string) => choosePodRuntime({ requested, dir: '/nonexistent', enter: [] });
    expect(await choose('process')).toEqual({
      mode: 'process',
      reason: 'process mode (RANCHER_ISTIO_POD_RUNTIME=process)',
    });
    await expect(choose('docker')).rejects.toThrow(
      'RANCHER_ISTIO_POD_RUNTIME=docker: expected podman, process or auto',
    );
  });

  test('a stop says whether the container ended on SIGTERM or was killed', () => {
    expect(stopMessage('c', 2, 137)).toBe(
      'container c did not stop within 2 s of SIGTERM and was killed (exit 137)',
    );
    expect(stopMessage('c', 2, 143)).toBe('container c stopped on SIGTERM (exit 143)');
  });
});

/** What the probe script (below) reports from inside the container. */
interface Probe {
  uid: number;
  gid: number;
  groups: number[];
  capEff: string;
  capBnd: string;
  noNewPrivs: string;
  hostname: string;
  pid1: string;
  rootMount: string;
  istioctlDir: string;
  values: string;
  writes: Record<string, string>;
  routes: string[];
  user: string;
  serviceDial: string;
}

// Runs in the image's node: what a pod can observe about its container, its token and its network.
const PROBE = `
const fs = require('fs'), https = require('https'), net = require('net'), os = require('os');
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => (status.split('\\n').find((l) => l.startsWith(k + ':')) || '').split(/\\s+/)[1];
const root = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((l) => l.split(' ')[4] === '/');
const out = {
  uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
  capEff: field('CapEff'), capBnd: field('CapBnd'), noNewPrivs: field('NoNewPrivs'),
  hostname: os.hostname(), pid1: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0')[0],
  rootMount: root.split(' ')[5], istioctlDir: process.env.ISTIOCTL_DIR,
  values: fs.readFileSync('/etc/istio-installer/values/values.yaml', 'utf8'), writes: {},
  routes: fs.readFileSync('/proc/net/route', 'utf8').trim().split('\\n').slice(1).map((l) => l.split('\\t')[0]),
};
for (const p of ['/etc/probe', '/usr/local/bin/probe', '/tmp/probe']) {
  try { fs.writeFileSync(p, 'x'); out.writes[p] = 'ok'; } catch (e) { out.writes[p] = e.code; }
}
const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
const req = https.request({
  host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, method: 'POST',
  path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', ca: fs.readFileSync(sa + 'ca.crt'),
  headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8'), 'content-type': 'application/json' },
}, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => {
    out.user = JSON.parse(body).status.userInfo.username;
    const s = net.connect(443, '10.96.0.1');
    const done = (r) => { out.serviceDial = r; s.destroy(); console.log(JSON.stringify(out)); };
    s.on('error', (e) => done(e.code));
    s.on('connect', () => done('connected'));
  });
});
req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
`;

describe('a rig in podman mode', () => {
  let cluster: Cluster;
  const ns = 'default';
  const image = `example.com/team/istio-installer:${packageVersion()}`;
  const labels = { 'rancher-istio.test/process-kubelet': 'true' };

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 1, podRuntime: 'podman' });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const pod = (name: string, container: Record<string, unknown>, spec: Record<string, unknown> = {}) =>
    cluster.kube.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name, labels },
      spec: { restartPolicy: 'Never', containers: [{ name: 'installer', image, ...container }], ...spec },
    });

  /** The Warning events of a pod, as reason: message. */
  const events = async (name: string) => {
    const list = await cluster.kube.get<{ items: { type: string; reason: string; message: string }[] }>(
      `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name%3D${name}`,
    );
    return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
  };
  const waiting = async (name: string) => {
    const p = await cluster.kube.get<{
      status?: { phase?: string; containerStatuses?: { state?: { waiting?: { reason?: string } } }[] };
    }>(`/api/v1/namespaces/${ns}/pods/${name}`);
    const reason = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
    return reason ? `${p.status?.phase ?? ''} ${reason}` : undefined;
  };

  test('the rig says it runs installer pods in Podman', () => {
    expect(cluster.podRuntime.mode).toBe('podman');
    expect(cluster.podRuntime.reason).toContain(imageTag());
  });

  test("a pod under the chart's securityContext: a container of the image, its token, volumes, the rig's network only", async () => {
    await cluster.kube.post(`/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: 'probe-values' },
      data: { 'values.yaml': 'tag: "1.31.0"\n' },
    });
    await pod(
      'probe',
      {
        command: ['node', '-e', PROBE],
        securityContext: CHART_CONTAINER,
        volumeMounts: [
          { name: 'values', mountPath: '/etc/istio-installer/values', readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
      {
        securityContext: CHART_POD,
        volumes: [
          { name: 'values', configMap: { name: 'probe-values' } },
          { name: 'tmp', emptyDir: {} },
        ],
      },
    );
    const status = await podFinished(cluster, ns, 'probe');
    const log = cluster.podLogs(ns, 'probe');
    expect([status.phase, log]).toEqual(['Succeeded', expect.any(String)]);
    const probe = JSON.parse(log.trim().split('\n').at(-1) ?? '{}') as Probe;
    expect(probe).toEqual({
      // The chart's user and groups, no capability at all, no way to gain privileges.
      uid: 65532,
      gid: 65532,
      groups: expect.arrayContaining([65532]) as number[],
      capEff: '0000000000000000',
      capBnd: '0000000000000000',
      noNewPrivs: '1',
      // A container: its own PID namespace (node is PID 1), the pod's name as hostname, the image's own ENV.
      hostname: 'probe',
      pid1: 'node',
      istioctlDir: '/usr/local/lib/istioctl',
      // A read-only root; /tmp is the pod's emptyDir, writable by the non-root user.
      rootMount: expect.stringMatching(/^ro(,|$)/) as string,
      writes: { '/etc/probe': 'EROFS', '/usr/local/bin/probe': 'EROFS', '/tmp/probe': 'ok' },
      values: 'tag: "1.31.0"\n',
      // The projected ServiceAccount token and CA reach the apiserver at KUBERNETES_SERVICE_HOST/PORT.
      user: 'system:serviceaccount:default:default',
      // Host networking inside the rig's namespace: no route at all, a Service address is unreachable.
      routes: [],
      serviceDial: 'ENETUNREACH',
    });
    // The same log through the apiserver (kubectl logs).
    const viaApi = await cluster.kubectl(['logs', 'probe', '-n', ns]);
    expect(String(viaApi.stdout)).toBe(log.trim());
  });

  test("the container's exit code is the pod's: Failed with exit 7", async () => {
    await pod('exits', { command: ['node', '-e', 'console.log("bye"); process.exit(7)'] });
    const status = await podFinished(cluster, ns, 'exits');
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(7);
    expect(cluster.podLogs(ns, 'exits')).toBe('bye\n');
    // The status names the container and the local image it ran, as a kubelet names its runtime's.
    const exited = await cluster.kube.get<{
      status: { containerStatuses: { containerID?: string; imageID?: string; image?: string }[] };
    }>(`/api/v1/namespaces/${ns}/pods/exits`);
    const { id } = await new PodmanPods(writeContainersConf(join(cluster.dir, 'podman')), [], true).inspect(
      imageTag(),
    );
    expect(exited.status.containerStatuses[0]).toMatchObject({
      image,
      imageID: id,
      containerID: expect.stringMatching(/^podman:\/\/rig-[0-9a-f-]+-installer$/) as string,
    });
  });

  test('limits are enforced: the cgroup holds the CPU quota, and memory past the limit is killed (exit 137)', async () => {
    // cgroup v1 or v2, whichever the machine has.
    const readLimits = [
      'const fs = require("node:fs");',
      'const read = (...paths) => { for (const p of paths) { try { return fs.readFileSync(p, "utf8").trim(); } catch {} } return "none"; };',
      'console.log(JSON.stringify({',
      '  memory: read("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),',
      '  cpu: read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"),',
      '}));',
    ].join('\n');
    await pod('limited', {
      command: ['node', '-e', readLimits],
      resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '96Mi' } },
    });
    expect((await podFinished(cluster, ns, 'limited')).phase).toBe('Succeeded');
    const limits = JSON.parse(cluster.podLogs(ns, 'limited').trim()) as { memory: string; cpu: string };
    expect(limits.memory).toBe(String(96 * 2 ** 20));
    // 50 ms of every 100 ms period: half a CPU (v1 quota alone, v2 "quota period").
    expect(limits.cpu).toMatch(/^50000( 100000)?$/);

    // Touches 256 MiB outside the JavaScript heap, which only the cgroup can stop.
    await pod('greedy', {
      command: [
        'node',
        '-e',
        'const b = []; for (let i = 0; i < 64; i++) b.push(Buffer.alloc(4 * 2 ** 20, 1)); console.log("survived")',
      ],
      resources: { limits: { memory: '96Mi' } },
    });
    const status = await podFinished(cluster, ns, 'greedy');
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(137);
    expect(cluster.podLogs(ns, 'greedy')).not.toContain('survived');
  });

  test('an image that is not built: the pod stays Pending with an event naming `npm run image`', async () => {
    await pod('unbuilt', { image: 'rancher-istio/istio-installer:0.0.0-unbuilt', args: ['--version'] });
    const reason = await eventually('the pod to wait for its image', 60_000, () => waiting('unbuilt'));
    expect(reason).toBe('Pending ErrImageNeverPull');
    expect(await events('unbuilt')).toEqual([
      expect.stringMatching(
        /^ErrImageNeverPull: image rancher-istio\/istio-installer:0\.0\.0-unbuilt runs here as localhost\/istio-installer:0\.0\.0-unbuilt, which is not built: `npm run image` builds/,
      ),
    ]);
  });

  test('runAsNonRoot with a root user: refused before anything runs, with an event', async () => {
    await pod(
      'rooted',
      { command: ['node', '-e', 'console.log("ran")'] },
      { securityContext: { runAsNonRoot: true, runAsUser: 0 } },
    );
    expect(await eventually('the pod to be refused', 60_000, () => waiting('rooted'))).toBe(
      'Pending CreateContainerConfigError',
    );
    expect(await events('rooted')).toEqual([
      'CreateContainerConfigError: container has runAsNonRoot and image will run as root',
    ]);
    expect(cluster.podLogs(ns, 'rooted')).not.toMatch(/^ran$/m);
  });

  test('a deleted pod whose container ignores SIGTERM is killed after its grace period, and that is reported', async () => {
    const script =
      'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("started"); setInterval(() => {}, 1000)';
    await pod('stubborn', { command: ['node', '-e', script] }, { terminationGracePeriodSeconds: 2 });
    await eventually('the container to start', 60_000, async () =>
      cluster.podLogs(ns, 'stubborn').includes('started') ? true : undefined,
    );
    await cluster.kube.delete(`/api/v1/namespaces/${ns}/pods/stubborn`);
    await eventually('the kill to be reported', 60_000, async () =>
      cluster.podLogs(ns, 'stubborn').includes('was killed') ? true : undefined,
    );
    expect(cluster.podLogs(ns, 'stubborn')).toMatch(
      /ignoring SIGTERM\n[^]*process-kubelet: container rig-[0-9a-f-]+-installer did not stop within 2 s of SIGTERM and was killed \(exit 137\)\n$/,
    );
  });
});

describe('a rig in auto mode (Podman and the image are here)', () => {
  let cluster: Cluster;
  const ns = 'default';

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 1, podRuntime: 'auto' });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const run = async (name: string, image: string) => {
    await cluster.kube.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name, labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'installer', image, args: ['--version'] }] },
    });
    await podFinished(cluster, ns, name);
    return cluster.kube.get<{
      status: { phase: string; containerStatuses: { containerID?: string }[] };
    }>(`/api/v1/namespaces/${ns}/pods/${name}`);
  };

  test('the built tag runs in Podman; a tag that is not built runs as host processes, with an event saying so', async () => {
    expect(cluster.podRuntime).toEqual({
      mode: 'podman',
      reason: `podman mode: installer pods run as containers of ${imageTag()}`,
    });
    const built = await run('built', `rancher-istio/istio-installer:${packageVersion()}`);
    expect(built.status.phase).toBe('Succeeded');
    expect(built.status.containerStatuses[0]?.containerID).toMatch(/^podman:\/\//);
    expect(cluster.podLogs(ns, 'built')).toBe(`${packageVersion()}\n`);

    const other = await run('other', 'rancher-istio/istio-installer:0.0.0-unbuilt');
    expect(other.status.phase).toBe('Succeeded');
    expect(other.status.containerStatuses[0]?.containerID).toBeUndefined();
    const events = await cluster.kube.get<{ items: { type: string; reason: string; message: string }[] }>(
      `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name%3Dother`,
    );
    const warnings = events.items.filter((e) => e.type === 'Warning');
    expect(warnings.map((e) => `${e.type} ${e.reason}: ${e.message}`)).toEqual([
      expect.stringMatching(
        /^Warning ImageNotBuilt: image rancher-istio\/istio-installer:0\.0\.0-unbuilt runs here as localhost\/istio-installer:0\.0\.0-unbuilt, which is not built: `npm run image` builds .*; running the pod as host processes \(process mode\)$/,
      ),
    ]);
    // The process mode's stand-in of the image: this checkout's CLI.
    expect(cluster.podLogs(ns, 'other').split('\n')).toContain(packageVersion());
  });
});
