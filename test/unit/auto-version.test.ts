// Whether the inputs name the Istio version, or leave it to the installer (by the cluster's Kubernetes).
import { buildIstioOperator } from '../../src/overlay/build.js';
import { DEFAULT_ISTIO_TAG } from '../../src/overlay/values-schema.js';
import { parseYamlSource } from '../../src/overlay/yaml-source.js';

const source = (text: string, label: string) => {
  const parsed = parseYamlSource(text, label);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.source;
};

const build = (values: string, overlays: string[] = [], sets: string[] = []) => {
  const result = buildIstioOperator({
    values: [source(values, 'values.yaml')],
    overlays: overlays.map((text, i) => source(text, `overlay-${i}.yaml`)),
    sets,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return { auto: result.autoVersion, tag: (result.istioOperator.spec as { tag: string }).tag };
};

const overlay = (spec: string) =>
  `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: ${spec}\n`;

describe('the Istio version: named, or left to the installer', () => {
  test('no tag anywhere: left to the installer; render shows the newest bundled version', () => {
    expect(build('{}')).toEqual({ auto: true, tag: DEFAULT_ISTIO_TAG });
    expect(build('tag: ""')).toEqual({ auto: true, tag: DEFAULT_ISTIO_TAG });
  });

  test('a tag in the values, an overlay or --set names it', () => {
    expect(build('tag: 1.29.6')).toEqual({ auto: false, tag: '1.29.6' });
    expect(build('{}', [overlay('{tag: 1.30.4}')])).toEqual({ auto: false, tag: '1.30.4' });
    expect(build('{}', [], ['tag=1.27.9'])).toEqual({ auto: false, tag: '1.27.9' });
  });

  test('pinned images without a tag of their own follow the version render shows', () => {
    const values = 'pilot: {repository: rancher/mirrored-istio-pilot}\n';
    const result = buildIstioOperator({ values: [source(values, 'values.yaml')], overlays: [], sets: [] });
    if (!result.ok) throw new Error('build failed');
    expect(JSON.stringify(result.istioOperator)).toContain(
      `rancher/mirrored-istio-pilot:${DEFAULT_ISTIO_TAG}`,
    );
  });
});
