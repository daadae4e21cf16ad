// The rig keeps its traffic on this machine: its processes and pods run in a network namespace with only
// loopback, the apiserver's calls to Services fail there at once, and no rig ever changes the machine's routes.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from './image.js';
import { parseIpv4Routes, parseIpv6Routes, readRoutes, routesOffMachine, type Route } from './netns.js';
import { startCluster, type Cluster } from './rig.js';
import { eventually, podFinished } from './testkit.js';

describe('route tables', () => {
  const ipv4 = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    '*\t0000600A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  const ipv6 = [
    '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo',
    'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0',
  ].join('\n');

  test('parses /proc/net/route and ipv6_route', () => {
    expect(parseIpv4Routes(ipv4)).toEqual([
      { family: 'ipv4', destination: '0.0.0.0/0', device: 'eth0' },
      { family: 'ipv4', destination: '10.96.0.0/16', device: '*' },
      { family: 'ipv4', destination: '192.0.2.0/24', device: 'eth0' },
    ]);
    expect(parseIpv6Routes(ipv6)).toEqual([
      { family: 'ipv6', destination: '0:0:0:0:0:0:0:1/128', device: 'lo' },
      { family: 'ipv6', destination: 'fe80:0:0:0:0:0:0:0/64', device: 'eth0' },
    ]);
  });

  test('only routes through a real device lead off the machine; loopback and blackholes do not', () => {
    const routes = [...parseIpv4Routes(ipv4), ...parseIpv6Routes(ipv6)];
    expect(routesOffMachine(routes).map((r) => r.destination)).toEqual([
      '0.0.0.0/0',
      '192.0.2.0/24',
      'fe80:0:0:0:0:0:0:0/64',
    ]);
    // A real pod's veth (pod-network.ts) leads only into that pod's namespace.
    expect(routesOffMachine([{ family: 'ipv4', destination: '10.244.200.1/32', device: 'rigpod1' }])).toEqual(
      [],
    );
  });

  test('this tier runs where no route leads off the machine (npm run test:cluster)', () => {
    expect(routesOffMachine(readRoutes('self'))).toEqual([]);
  });
});

/** The machine's routes: those of PID 1's namespace, whichever namespace this test runs in. */
const machineRoutes = (): Route[] => readRoutes(1);

/** Node inside the rig's namespace tries a TCP connection and prints the error code (or "connected"). */
const dialFromInside = async (cluster: Cluster, host: string, port: number): Promise<string> => {
  const script =
    `const s = require('net').connect(${port}, ${JSON.stringify(host)});` +
    `s.on('connect', () => { console.log('connected'); s.destroy(); });` +
    `s.on('error', (e) => console.log(e.code));` +
    `setTimeout(() => { console.log('pending'); process.exit(0); }, 20000).unref();`;
  const r = await cluster.runInside([process.execPath, '-e', script]);
  return `${r.stdout}${r.stderr}`.trim();
};

describe('a running rig', () => {
  let cluster: Cluster;
  const machineBefore = machineRoutes();

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 15 * 60_000, nodes: 1 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('runs in a namespace of its own whose only routes are loopback', () => {
    expect(readlinkSync(`/proc/${cluster.network.holderPid}/ns/net`)).not.toBe(
      readlinkSync('/proc/self/ns/net'),
    );
    const routes = cluster.network.routes();
    expect(routes.length).toBeGreaterThan(0);
    expect(routesOffMachine(routes)).toEqual([]);
  });

  test('a connection to a Service, a pod or the machine resolver fails inside at once: no route exists', async () => {
    const svc = await cluster.kube.post<{ spec: { clusterIP: string } }>(
      '/api/v1/namespaces/default/services',
      {
        metadata: { name: 'nowhere' },
        spec: { ports: [{ port: 443, targetPort: 8443 }], selector: { app: 'nowhere' } },
      },
    );
    expect(svc.spec.clusterIP).toMatch(/^10\.96\./);
    const resolver = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
    const targets = [svc.spec.clusterIP, '10.244.0.7', ...(resolver ? [resolver] : [])];
    for (const host of targets)
      expect(`${host} ${await dialFromInside(cluster, host, 443)}`).toBe(`${host} ENETUNREACH`);
  });

  test('process-kubelet pods run inside the namespace too', async () => {
    await cluster.kube.post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'dialer', labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'c',
            image: 'x/y:1',
            command: [
              process.execPath,
              '-e',
              "require('net').connect(443, '10.96.0.1').on('error', (e) => console.log(e.code))",
            ],
          },
        ],
      },
    });
    expect((await podFinished(cluster, 'default', 'dialer')).phase).toBe('Succeeded');
    expect(cluster.podLogs('default', 'dialer').trim()).toBe('ENETUNREACH');
  });

  test("the apiserver's webhook call to a Service fails locally with no route, never reaching a network", async () => {
    // The apiserver calls webhooks at a ready endpoint (--enable-aggregator-routing): a kwok pod, whose address
    // nothing serves, is one.
    await cluster.kube.post('/api/v1/namespaces/default/services', {
      metadata: { name: 'webhook-backend' },
      spec: { ports: [{ port: 443, targetPort: 8443 }], selector: { app: 'webhook-backend' } },
    });
    await cluster.kube.post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'webhook-backend', labels: { app: 'webhook-backend' } },
      spec: { containers: [{ name: 'c', image: 'example.com/webhook:1' }] },
    });
    await cluster.kube.post('/api/v1/namespaces', {
      metadata: { name: 'guarded', labels: { 'rig-test/webhook': 'on' } },
    });
    await cluster.kube.post('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
      metadata: { name: 'rig-test' },
      webhooks: [
        {
          name: 'deny.rig-test.example',
          clientConfig: {
            service: { namespace: 'default', name: 'webhook-backend', path: '/validate', port: 443 },
          },
          rules: [
            { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] },
          ],
          namespaceSelector: { matchLabels: { 'rig-test/webhook': 'on' } },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 30,
        },
      ],
    });
    const message = await eventually('the webhook to be called', 60_000, async () => {
      try {
        await cluster.kube.post('/api/v1/namespaces/guarded/configmaps', {
          metadata: { generateName: 'x-' },
        });
        return undefined; // Created before the apiserver saw the webhook; try again.
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        // Until the apiserver sees the Service and its ready endpoint it answers without dialing; try again.
        return /not found|no endpoints available/.test(text) ? undefined : text;
      }
    });
    // The apiserver's own words (inside a JSON Status, so its quotes come escaped).
    expect(message).toMatch(/dial tcp 10\.244\.\d+\.\d+:8443: connect: network is unreachable/);
    expect(message).toMatch(
      /failed calling webhook \\?"deny\.rig-test\.example\\?".*connect: network is unreachable/s,
    );
  });

  test("the machine's routes are untouched by a running rig", () => {
    expect(machineRoutes()).toEqual(machineBefore);
  });
});

describe('cluster:up, then a kill -9 of its owner', () => {
  test("leaves the machine's routes as they were, and the namespace ends with the rig's lifetime", async () => {
    const before = machineRoutes();
    const stateDir = mkdtempSync(join(tmpdir(), 'rig-netns-'));
    const env = { RANCHER_ISTIO_CLUSTER_DIR: stateDir };
    const cli = join(REPO_ROOT, 'test', 'cluster', 'cli.ts');
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    try {
      // One minute: components outlive a killed owner only until the lifetime (plus 30 s) runs out.
      const up = await execa(tsx, [cli, 'up', '--lifetime', '1'], { env, reject: false });
      expect(up.exitCode).toBe(0);
      const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as {
        pid: number;
        netnsHolderPid: number;
      };
      const holderNs = readlinkSync(`/proc/${state.netnsHolderPid}/ns/net`);
      expect(holderNs).not.toBe(readlinkSync('/proc/self/ns/net'));
      process.kill(state.pid, 'SIGKILL');
      expect(machineRoutes()).toEqual(before);
      await eventually('the namespace holder to end with the lifetime', 180_000, async () => {
        try {
          process.kill(state.netnsHolderPid, 0);
          return undefined;
        } catch {
          return true;
        }
      });
      expect(machineRoutes()).toEqual(before);
    } finally {
      await execa(tsx, [cli, 'down'], { env, reject: false });
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
