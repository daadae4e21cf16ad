// status's data-plane view: each namespace's mode from Istio's labels, the waypoints, and their human form (fake kube).
import { dataPlaneOf, waypointsOf } from '../../../src/installer/decide/data-plane.js';
import { readDataPlane } from '../../../src/installer/cluster/read-data-plane.js';
import { readClusterState } from '../../../src/installer/cluster/read-state.js';
import { formatStatus, statusReport } from '../../../src/installer/decide/status.js';
import { FakeKube, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';

const ns = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels } });

test.each([
  [{ 'istio.io/dataplane-mode': 'ambient' }, { mode: 'ambient' }],
  [
    { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'wp' },
    { mode: 'ambient', useWaypoint: 'wp' },
  ],
  [{ 'istio-injection': 'enabled' }, { mode: 'sidecar', revision: 'default' }],
  [{ 'istio.io/rev': 'prod-stable' }, { mode: 'sidecar', revision: 'prod-stable' }],
  [{ 'istio.io/rev': 'x', 'istio-injection': 'disabled' }, { mode: 'none' }],
  [{ 'istio.io/dataplane-mode': 'ambient', 'istio-injection': 'enabled' }, { mode: 'ambient' }],
  [{}, { mode: 'none' }],
])('labels %j make %j', (labels, expected) => {
  expect(dataPlaneOf(ns('app', labels))).toEqual({ namespace: 'app', ...expected });
});

test('waypoints are the Gateways of class istio-waypoint', () => {
  expect(
    waypointsOf([
      { metadata: { name: 'wp', namespace: 'b' }, spec: { gatewayClassName: 'istio-waypoint' } },
      { metadata: { name: 'ingress', namespace: 'b' }, spec: { gatewayClassName: 'istio' } },
      {
        metadata: { name: 'wp', namespace: 'a', labels: { 'istio.io/waypoint-for': 'all' } },
        spec: { gatewayClassName: 'istio-waypoint' },
      },
    ]),
  ).toEqual([
    { namespace: 'a', name: 'wp', for: 'all' },
    { namespace: 'b', name: 'wp', for: 'service' },
  ]);
});

test('status shows node agents, each mode with its namespaces, and the waypoints', async () => {
  const kube = new FakeKube();
  kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  kube.mutating.push(injectorWebhook());
  kube.daemonSets.push({
    metadata: {
      name: 'ztunnel',
      namespace: 'istio-system',
      generation: 1,
      labels: { 'operator.istio.io/component': 'Ztunnel' },
    },
    spec: {
      selector: { matchLabels: { app: 'ztunnel' } },
      template: {
        spec: { containers: [{ name: 'istio-proxy', image: 'registry.istio.io/release/ztunnel:1.31.0' }] },
      },
    },
    status: {
      observedGeneration: 1,
      desiredNumberScheduled: 3,
      numberReady: 3,
      updatedNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberMisscheduled: 0,
    },
  });
  kube.namespaces.push(
    ns('istio-system'),
    ns('kube-system'),
    ns('shop', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }),
    ns('legacy', { 'istio-injection': 'enabled' }),
  );
  kube.customObjects.set('gateways.gateway.networking.k8s.io', [
    { metadata: { name: 'waypoint', namespace: 'shop' }, spec: { gatewayClassName: 'istio-waypoint' } },
  ]);
  const report = statusReport(
    await readClusterState(kube, 'istio-system'),
    new Date(Date.UTC(2026, 10, 21)),
    false,
    await readDataPlane(kube),
  );
  expect(report.healthy).toBe(true);
  expect(formatStatus(report)).toContain(
    [
      '  node agent istio-system/ztunnel: Istio 1.31.0, 3/3 pods ready',
      '  data plane by namespace:',
      '    ambient: shop (waypoint waypoint)',
      '    sidecar: legacy (revision default)',
      '    none: 2 namespaces',
      '  waypoints: shop/waypoint (for service)',
    ].join('\n'),
  );
});
