// The `podSecurity` rule's pure parts: which components get a seccomp profile, what a user wrote wins, and what an
// older istioctl cannot take (real istioctl and a real PodSecurity admission check the effect in
// test/e2e/hardened.test.ts).
import {
  proxySeccompSupported,
  withPodSecurity,
  withoutUnsupportedPodSecurity,
} from '../../src/overlay/pod-security.js';
import type { JsonObject } from '../../src/overlay/json.js';

const RUNTIME_DEFAULT = { seccompProfile: { type: 'RuntimeDefault' } };

test('istiod, every gateway not switched off and, from 1.29, the proxies get RuntimeDefault', () => {
  const spec: JsonObject = {
    tag: '1.30.4',
    components: {
      pilot: { enabled: true },
      ingressGateways: [
        { name: 'istio-ingressgateway', enabled: true, k8s: { securityContext: { runAsUser: 1337 } } },
        { name: 'apps-gateway', namespace: 'apps' },
        { name: 'off', enabled: false },
      ],
      egressGateways: [{ name: 'istio-egressgateway', enabled: true }],
      cni: { enabled: true },
    },
  };
  const out = withPodSecurity(spec, 'RuntimeDefault', '1.30.4') as {
    components: Record<string, JsonObject & { k8s?: JsonObject }[]>;
    values: { global: { proxy: JsonObject } };
  };
  expect(out.components.pilot).toEqual({ enabled: true, k8s: { securityContext: RUNTIME_DEFAULT } });
  const [ingress, apps, off] = out.components.ingressGateways!;
  expect(ingress!.k8s).toEqual({ securityContext: { runAsUser: 1337, ...RUNTIME_DEFAULT } });
  expect(apps!.k8s).toEqual({ securityContext: RUNTIME_DEFAULT });
  expect(off).toEqual({ name: 'off', enabled: false });
  expect(out.components.egressGateways![0]!.k8s).toEqual({ securityContext: RUNTIME_DEFAULT });
  // The node agents need privileges restricted forbids: left as written.
  expect(out.components.cni).toEqual({ enabled: true });
  expect(out.values.global.proxy).toEqual(RUNTIME_DEFAULT);
});

test("a component's own seccomp profile and the proxies' own win", () => {
  const localhost = { seccompProfile: { type: 'Localhost', localhostProfile: 'istio.json' } };
  const spec: JsonObject = {
    components: { pilot: { k8s: { securityContext: localhost } } },
    values: { global: { proxy: localhost, hub: 'x' } },
  };
  const out = withPodSecurity(spec, 'RuntimeDefault', '1.31.0');
  expect(out).toEqual({ ...spec, components: { pilot: { k8s: { securityContext: localhost } } } });
});

test("empty leaves Istio's default; a disabled istiod gets nothing", () => {
  const spec: JsonObject = { components: { pilot: { enabled: false } } };
  expect(withPodSecurity(spec, '', '1.31.0')).toBe(spec);
  expect(withPodSecurity(spec, 'RuntimeDefault', '1.27.9')).toEqual(spec);
});

test('wrongly shaped input is left for the schema to report where it was written', () => {
  const lists: JsonObject = { components: { pilot: { k8s: [] } }, values: [] as never };
  expect(withPodSecurity(lists, 'RuntimeDefault', '1.31.0')).toEqual(lists);
  const components: JsonObject = { components: 'x' };
  expect(withPodSecurity(components, 'RuntimeDefault', '1.31.0')).toBe(components);
});

test.each([
  ['1.29.0', true],
  ['1.31.0-distroless', true],
  ['2.0.0', true],
  ['1.28.9', false],
  ['1.25.0', false],
  ['latest', false],
])('istioctl %s takes values.global.proxy.seccompProfile: %s', (tag, expected) => {
  expect(proxySeccompSupported(tag)).toBe(expected);
});

test("a hop older than 1.29 drops only the proxies' seccomp profile", () => {
  const spec = withPodSecurity({ components: {} }, 'RuntimeDefault', '1.31.0');
  const hop = withoutUnsupportedPodSecurity(spec, '1.27.9') as { values: { global: { proxy: JsonObject } } };
  expect(hop.values.global.proxy).toEqual({});
  expect((hop as JsonObject).components).toEqual(spec.components);
  expect(withoutUnsupportedPodSecurity(spec, '1.29.6')).toBe(spec);
});
