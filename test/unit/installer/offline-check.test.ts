// The offline check's arguments: base (Istio's CRDs) is rendered only when the spec sets something of it.
import { baseHasSettings, manifestGenerateArgs } from '../../../src/installer/istioctl/offline-check.js';

const NO_BASE = ['--set', 'components.base.enabled=false'];

test.each([
  ['no components', false, {}],
  ['other components only', false, { components: { pilot: { k8s: { replicaCount: 2 } } } }],
  ['base enabled', false, { components: { base: { enabled: true } } }],
  ['base disabled', false, { components: { base: { enabled: false } } }],
  ['base k8s overlays', true, { components: { base: { k8s: { overlays: [] } } } }],
  ['base k8s with enabled', true, { components: { base: { enabled: true, k8s: {} } } }],
  ['base not an object', true, { components: { base: 5 } }],
  ['base null', true, { components: { base: null } }],
])('%s: base rendered: %s', (_, rendered, spec) => {
  expect(baseHasSettings(spec)).toBe(rendered);
  expect(manifestGenerateArgs('/tmp/spec.yaml', spec)).toEqual([
    'manifest',
    'generate',
    '-f',
    '/tmp/spec.yaml',
    ...(rendered ? [] : NO_BASE),
  ]);
});
