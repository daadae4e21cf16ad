// The profile rule's pure parts: what istioctl installs from a spec, the profile's gateway entries under ours, and
// dropping entries only our placement wrote (real istioctl checks the same in test/istioctl/profiles.test.ts).
import {
  componentEnabled,
  withoutUnaskedComponents,
  withProfileGateways,
} from '../../src/overlay/profiles.js';
import type { JsonObject } from '../../src/overlay/json.js';

test.each([
  [{}, 'pilot', true],
  [{}, 'cni', false],
  [{ components: { cni: { k8s: {} } } }, 'cni', true], // an entry without enabled counts as on, as in istioctl
  [{ components: { cni: { enabled: false, k8s: {} } } }, 'cni', false],
  [{ profile: 'ambient' }, 'ztunnel', true],
  [{ profile: 'empty', components: { pilot: { k8s: {} } } }, 'pilot', false], // the profile says off
  [{ profile: '' }, 'base', true],
] as const)('componentEnabled(%j, %s) is %s', (spec, name, expected) => {
  expect(componentEnabled(spec, name)).toBe(expected);
});

test('gateways get the final profile their own entry under ours; unknown gateways stay as written', () => {
  const spec: JsonObject = {
    profile: 'demo',
    components: {
      ingressGateways: [
        { name: 'istio-ingressgateway', k8s: { service: { type: 'NodePort' } } },
        { name: 'x' },
      ],
      egressGateways: [{ name: 'istio-egressgateway' }],
    },
  };
  expect(withProfileGateways(spec).components).toEqual({
    ingressGateways: [
      { name: 'istio-ingressgateway', enabled: true, k8s: { service: { type: 'NodePort' } } },
      { name: 'x' },
    ],
    egressGateways: [{ name: 'istio-egressgateway', enabled: true }],
  });
  const off = withProfileGateways({ ...spec, profile: 'ambient' }).components as {
    ingressGateways: { enabled?: boolean }[];
  };
  expect(off.ingressGateways[0]?.enabled).toBe(false);
  const own = withProfileGateways({
    components: { ingressGateways: [{ name: 'istio-ingressgateway', enabled: false }] },
  }).components as { ingressGateways: { enabled?: boolean }[] };
  expect(own.ingressGateways[0]?.enabled).toBe(false);
});

test('entries only our placement wrote are dropped where the profile does not mention the component', () => {
  const spec = {
    components: { cni: { k8s: { nodeSelector: {} } }, ztunnel: { k8s: {} }, pilot: { k8s: {} } },
  };
  expect(withoutUnaskedComponents(spec, () => false).components).toEqual({ pilot: { k8s: {} } });
  // An overlay that wrote under components.cni keeps it, and with it istioctl's "on".
  expect(withoutUnaskedComponents(spec, (name) => name === 'cni').components).toEqual({
    cni: { k8s: { nodeSelector: {} } },
    pilot: { k8s: {} },
  });
  // The ambient profile mentions both: nothing to drop.
  const ambient = { ...spec, profile: 'ambient' };
  expect(withoutUnaskedComponents(ambient, () => false)).toBe(ambient);
});
