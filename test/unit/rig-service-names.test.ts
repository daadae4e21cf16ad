// How the rig's pods find the Services of the pods it serves for real (no cluster DNS, no kube-proxy): the /etc/hosts
// lines the process kubelet gives every pod it starts, and how Podman gets them.
import { serviceHosts, type Pod } from '../cluster/process-kubelet.js';
import { podmanRunArgs } from '../cluster/podman-pod.js';

const pod = (namespace: string, name: string, labels: Record<string, string>): Pod => ({
  metadata: { namespace, name, uid: name, labels },
  spec: { containers: [] },
});
const mirror = pod('istio-system', 'rancher-istio-mirror-1', {
  'app.kubernetes.io/name': 'rancher-istio',
  'app.kubernetes.io/component': 'mirror',
});
const service = (namespace: string, name: string, selector?: Record<string, string>) => ({
  metadata: { namespace, name },
  spec: selector ? { selector } : {},
});
const mirrorService = service('istio-system', 'rancher-istio-mirror', {
  'app.kubernetes.io/name': 'rancher-istio',
  'app.kubernetes.io/component': 'mirror',
});

test("a Ready served pod's Service resolves by its cluster names; the bare name only in its own namespace", () => {
  const served = [{ pod: mirror, ip: '10.244.200.3', ready: true }];
  expect(serviceHosts('istio-system', [mirrorService], served)).toEqual([
    '10.244.200.3 rancher-istio-mirror.istio-system.svc.cluster.local rancher-istio-mirror.istio-system.svc rancher-istio-mirror.istio-system rancher-istio-mirror',
  ]);
  expect(serviceHosts('default', [mirrorService], served)).toEqual([
    '10.244.200.3 rancher-istio-mirror.istio-system.svc.cluster.local rancher-istio-mirror.istio-system.svc rancher-istio-mirror.istio-system',
  ]);
});

test('no name for a pod not Ready, in another namespace, not selected, or a Service without a selector', () => {
  const other = pod('apps', 'rancher-istio-mirror-2', mirror.metadata.labels ?? {});
  expect(
    serviceHosts(
      'istio-system',
      [
        mirrorService,
        service('istio-system', 'external'),
        service('istio-system', 'istiod', { app: 'istiod' }),
      ],
      [
        { pod: mirror, ip: '10.244.200.3', ready: false },
        { pod: other, ip: '10.244.200.4', ready: true },
      ],
    ),
  ).toEqual([]);
});

test('two Ready pods behind one Service: one line each, in pod-name order (no load balancing: the first answers)', () => {
  const second = pod('istio-system', 'rancher-istio-mirror-0', mirror.metadata.labels ?? {});
  const lines = serviceHosts(
    'default',
    [mirrorService],
    [
      { pod: mirror, ip: '10.244.200.3', ready: true },
      { pod: second, ip: '10.244.200.5', ready: true },
    ],
  );
  expect(lines.map((l) => l.split(' ')[0])).toEqual(['10.244.200.5', '10.244.200.3']);
});

test('Podman gets each name as --add-host', () => {
  const args = podmanRunArgs({
    name: 'rig-x-installer',
    image: 'localhost/istio-installer:0.1.0',
    hostname: 'job',
    labels: {},
    security: [],
    mounts: [],
    hosts: [{ host: 'rancher-istio-mirror.istio-system.svc', ip: '10.244.200.3' }],
    env: {},
  });
  expect(args.join(' ')).toContain('--add-host rancher-istio-mirror.istio-system.svc:10.244.200.3');
});
