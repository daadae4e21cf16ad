// Sorting istioctl's findings: install-unsafe ones refuse, our own interrupted run's overlap is repaired, the rest warn.
import { parseFindings, sortFindings, webhooksNamed } from '../../../src/installer/decide/findings.js';

const output = [
  '✔ some progress line',
  'Error [IST0101] (VirtualService default/broken-vs) Referenced host not found: "nope"',
  'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector ) Webhook overlaps with others: [istio-revision-tag-default/rev.namespace.sidecar-injector.istio.io other-mesh-injector/x.example.io]. This may cause injection to occur twice.',
  'Warning [IST0173] (DestinationRule default/reviews) The Subset v3 defined in the DestinationRule does not select any pods.',
  'Info [IST0102] (Namespace default) The namespace is not enabled for Istio injection.',
  'Error [IST0156] The Gateway API CRD version v1.0.0 is lower than the minimum version: v1.2.0',
].join('\n');

test('parses the level, code and resource of each finding line', () => {
  expect(parseFindings(output).map((f) => [f.level, f.code, f.resource])).toEqual([
    ['Error', 'IST0101', 'VirtualService default/broken-vs'],
    ['Error', 'IST0139', 'MutatingWebhookConfiguration istio-sidecar-injector'],
    ['Warning', 'IST0173', 'DestinationRule default/reviews'],
    ['Info', 'IST0102', 'Namespace default'],
    ['Error', 'IST0156', undefined],
  ]);
});

test('names every webhook configuration an overlap mentions', () => {
  const overlap = parseFindings(output)[1]!;
  expect(webhooksNamed(overlap)).toEqual([
    'istio-sidecar-injector',
    'istio-revision-tag-default',
    'other-mesh-injector',
  ]);
});

test("users' findings warn, unsafe ones block, info is dropped; an overlap with a webhook not ours blocks", () => {
  const own = new Set(['istio-sidecar-injector', 'istio-revision-tag-default']);
  const sorted = sortFindings(parseFindings(output), 'analyze', own, true);
  expect(sorted.warnings.map((f) => f.code)).toEqual(['IST0101', 'IST0173']);
  expect(sorted.blocking.map((f) => f.code)).toEqual(['IST0139', 'IST0156']);
  expect(sorted.ours).toEqual([]);
});

test('an overlap of our own webhooks is ours to repair only when our last run did not finish', () => {
  const line =
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector) Webhook overlaps with others: [istio-revision-tag-default/rev.namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.';
  const own = new Set(['istio-sidecar-injector', 'istio-revision-tag-default']);
  expect(sortFindings(parseFindings(line), 'precheck', own, true).ours).toHaveLength(1);
  expect(sortFindings(parseFindings(line), 'analyze', own, false).blocking).toHaveLength(1);
  expect(
    sortFindings(parseFindings('Warning [IST0135] (Pod a/b) deprecated'), 'precheck', own, true).blocking,
  ).toHaveLength(1);
});

test('an overlap between the injector and the default tag of one revision (istioctl re-applied it) only warns', () => {
  const line =
    'Error [IST0139] (MutatingWebhookConfiguration istio-revision-tag-default) Webhook overlaps with others: [istio-sidecar-injector/namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.';
  const own = new Set([
    'istio-sidecar-injector',
    'istio-revision-tag-default',
    'istio-sidecar-injector-1-31-0',
  ]);
  const same = new Map([
    ['istio-sidecar-injector', 'default'],
    ['istio-revision-tag-default', 'default'],
  ]);
  expect(sortFindings(parseFindings(line), 'analyze', own, false, same).warnings).toHaveLength(1);
  const other = new Map([
    ['istio-sidecar-injector', 'default'],
    ['istio-revision-tag-default', '1-31-0'],
  ]);
  expect(sortFindings(parseFindings(line), 'analyze', own, false, other).blocking).toHaveLength(1);
});

test('a finding about a webhook this run just deleted as stale is gone, not blocking (istioctl read a stale cache)', () => {
  // As analyze 1.29.6 printed it on the rig right after the installer deleted Rancher's stale injector.
  const calls =
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector) Injector refers to a control plane service that does not exist: istio-system/istiod.';
  const overlap =
    'Error [IST0139] (MutatingWebhookConfiguration istio-revision-tag-default) Webhook overlaps with others: [istio-sidecar-injector/namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.';
  const own = new Set(['istio-revision-tag-default']);
  const deleted = new Set(['istio-sidecar-injector']);
  const sorted = sortFindings(
    parseFindings(`${calls}\n${overlap}`),
    'analyze',
    own,
    false,
    new Map(),
    deleted,
  );
  expect(sorted).toEqual({
    blocking: [],
    ours: [],
    warnings: [],
    gone: parseFindings(`${calls}\n${overlap}`),
  });
  // The same findings with nothing deleted still block: the check is not weakened for webhooks that exist.
  expect(sortFindings(parseFindings(`${calls}\n${overlap}`), 'analyze', own, false).blocking).toHaveLength(2);
});
