// Grafana dashboards for rancher-monitoring (control plane, mesh, workloads), written as ConfigMaps into
// `cattle-dashboards` when that namespace exists, as Rancher's installer did; the queries use Istio's standard metrics.
import type { V1ConfigMap } from '@kubernetes/client-node';

export const DASHBOARD_NAMESPACE = 'cattle-dashboards';

interface Panel {
  title: string;
  unit: string;
  queries: { expr: string; legend: string }[];
}

/** A dashboard of time-series panels, two per row, with a namespace variable where the queries use one. */
export function dashboard(
  uid: string,
  title: string,
  panels: readonly Panel[],
  withNamespace: boolean,
): Record<string, unknown> {
  return {
    uid,
    title,
    tags: ['istio', 'rancher-istio'],
    timezone: 'browser',
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', hide: 0 },
        ...(withNamespace
          ? [
              {
                name: 'namespace',
                type: 'query',
                datasource: { uid: '${datasource}' },
                query: 'label_values(istio_requests_total, destination_workload_namespace)',
                includeAll: true,
                multi: true,
                refresh: 2,
              },
            ]
          : []),
      ],
    },
    panels: panels.map((panel, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: panel.title,
      datasource: { uid: '${datasource}' },
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.queries.map((q, j) => ({
        refId: String.fromCharCode(65 + j),
        expr: q.expr,
        legendFormat: q.legend,
      })),
    })),
  };
}

const ns = 'destination_workload_namespace=~"$namespace"';

export const DASHBOARDS: Record<string, Record<string, unknown>> = {
  'istio-control-plane.json': dashboard(
    'rancher-istio-control-plane',
    'Istio / Control Plane',
    [
      {
        title: 'istiod CPU',
        unit: 'short',
        queries: [
          {
            expr: 'sum by (pod) (rate(container_cpu_usage_seconds_total{container="discovery"}[5m]))',
            legend: '{{pod}}',
          },
        ],
      },
      {
        title: 'istiod memory',
        unit: 'bytes',
        queries: [
          {
            expr: 'sum by (pod) (container_memory_working_set_bytes{container="discovery"})',
            legend: '{{pod}}',
          },
        ],
      },
      {
        title: 'Connected proxies',
        unit: 'short',
        queries: [{ expr: 'sum by (version) (pilot_xds)', legend: '{{version}}' }],
      },
      {
        title: 'xDS pushes',
        unit: 'ops',
        queries: [{ expr: 'sum by (type) (rate(pilot_xds_pushes[5m]))', legend: '{{type}}' }],
      },
      {
        title: 'Push time p99',
        unit: 's',
        queries: [
          {
            expr: 'histogram_quantile(0.99, sum by (le) (rate(pilot_proxy_convergence_time_bucket[5m])))',
            legend: 'p99',
          },
        ],
      },
      {
        title: 'Rejected configuration',
        unit: 'short',
        queries: [{ expr: 'sum by (type) (pilot_total_xds_rejects)', legend: '{{type}}' }],
      },
    ],
    false,
  ),
  'istio-mesh.json': dashboard(
    'rancher-istio-mesh',
    'Istio / Mesh',
    [
      {
        title: 'Global request volume',
        unit: 'reqps',
        queries: [
          {
            expr: 'round(sum(rate(istio_requests_total{reporter="destination"}[5m])), 0.01)',
            legend: 'requests',
          },
        ],
      },
      {
        title: 'Global success rate (non-5xx)',
        unit: 'percentunit',
        queries: [
          {
            expr: 'sum(rate(istio_requests_total{reporter="destination", response_code!~"5.*"}[5m])) / sum(rate(istio_requests_total{reporter="destination"}[5m]))',
            legend: 'success',
          },
        ],
      },
      {
        title: '4xx and 5xx',
        unit: 'reqps',
        queries: [
          {
            expr: 'sum(rate(istio_requests_total{reporter="destination", response_code=~"4.*"}[5m]))',
            legend: '4xx',
          },
          {
            expr: 'sum(rate(istio_requests_total{reporter="destination", response_code=~"5.*"}[5m]))',
            legend: '5xx',
          },
        ],
      },
      {
        title: 'Requests by service',
        unit: 'reqps',
        queries: [
          {
            expr: 'sum by (destination_service) (rate(istio_requests_total{reporter="destination"}[5m]))',
            legend: '{{destination_service}}',
          },
        ],
      },
    ],
    false,
  ),
  'istio-workloads.json': dashboard(
    'rancher-istio-workloads',
    'Istio / Workloads',
    [
      {
        title: 'Incoming requests by workload',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (destination_workload) (rate(istio_requests_total{reporter="destination", ${ns}}[5m]))`,
            legend: '{{destination_workload}}',
          },
        ],
      },
      {
        title: 'Success rate by workload',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum by (destination_workload) (rate(istio_requests_total{reporter="destination", ${ns}, response_code!~"5.*"}[5m])) / sum by (destination_workload) (rate(istio_requests_total{reporter="destination", ${ns}}[5m]))`,
            legend: '{{destination_workload}}',
          },
        ],
      },
      {
        title: 'Request duration p90',
        unit: 'ms',
        queries: [
          {
            expr: `histogram_quantile(0.90, sum by (le, destination_workload) (rate(istio_request_duration_milliseconds_bucket{reporter="destination", ${ns}}[5m])))`,
            legend: '{{destination_workload}}',
          },
        ],
      },
      {
        title: 'TCP bytes received',
        unit: 'Bps',
        queries: [
          {
            expr: `sum by (destination_workload) (rate(istio_tcp_received_bytes_total{reporter="destination", ${ns}}[5m]))`,
            legend: '{{destination_workload}}',
          },
        ],
      },
    ],
    true,
  ),
};

/** The ConfigMaps rancher-monitoring's Grafana sidecar picks up (label grafana_dashboard: "1"). */
export function dashboardConfigMaps(): V1ConfigMap[] {
  return Object.entries(DASHBOARDS).map(([file, content]) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `rancher-istio-${file.replace(/\.json$/, '')}`,
      namespace: DASHBOARD_NAMESPACE,
      labels: {
        grafana_dashboard: '1',
        'app.kubernetes.io/managed-by': 'istio-installer',
        'app.kubernetes.io/part-of': 'rancher-istio',
      },
    },
    data: { [file]: JSON.stringify(content, null, 2) },
  }));
}
