// The 2 MB overlay the render benchmarks time: 500 gateways, as a large fleet's shared overlay might list.
import { stringify } from 'yaml';

/** An overlay of about 2 MB: 500 extra gateways, each with ports, env, annotations and k8s patches. */
export function bigOverlay(): string {
  const gateways = Array.from({ length: 500 }, (_, i) => ({
    name: `gateway-${i}`,
    enabled: true,
    namespace: `team-${i % 20}`,
    label: { istio: `gateway-${i}`, app: `gateway-${i}`, team: `team-${i % 20}` },
    k8s: {
      env: Array.from({ length: 12 }, (_, j) => ({
        name: `GATEWAY_SETTING_${j}`,
        value: `value-${i}-${j}-${'x'.repeat(40)}`,
      })),
      podAnnotations: Object.fromEntries(
        Array.from({ length: 8 }, (_, j) => [
          `example.com/annotation-${j}`,
          `gateway-${i}-${'y'.repeat(60)}`,
        ]),
      ),
      serviceAnnotations: {
        'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
        'example.com/owner': `team-${i % 20}`,
      },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      service: {
        type: 'LoadBalancer',
        ports: Array.from({ length: 6 }, (_, j) => ({
          name: `port-${j}`,
          port: 8000 + j,
          targetPort: 18000 + j,
        })),
      },
      overlays: [
        {
          kind: 'Deployment',
          name: `gateway-${i}`,
          patches: Array.from({ length: 4 }, (_, j) => ({
            path: `spec.template.metadata.labels.extra-${j}`,
            value: `v${j}-${'z'.repeat(30)}`,
          })),
        },
      ],
    },
  }));
  return stringify({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: { components: { ingressGateways: gateways } },
  });
}
