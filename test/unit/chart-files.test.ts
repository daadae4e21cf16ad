// The chart's generated files (values.yaml, values.schema.json, Chart.yaml versions, README values tables) match their
// sources, and the chart's values and scenario files are what the installer accepts. Fix drift with `npm run docs`.
import { readdirSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import {
  CHART_DIR,
  CHART_DIRS,
  expectedChartFiles,
  kubeVersionRange,
  parseValuesComments,
} from '../../scripts/chart-files.js';
import { BUNDLED_ISTIO_VERSIONS, DEFAULT_ISTIO_TAG, valuesSchema } from '../../src/overlay/values-schema.js';
import { knownKeys } from '../../src/overlay/zod-issues.js';

const read = (path: string) => readFileSync(path, 'utf8');

describe('generated chart files', () => {
  test.each(Object.entries(expectedChartFiles()))(
    '%s is up to date (run `npm run docs`)',
    (path, expected) => {
      expect(read(path)).toBe(expected);
    },
  );

  test('Chart.yaml: appVersion is the default Istio version and kubeVersion every Kubernetes a bundled one supports', () => {
    const chart = load(read(`${CHART_DIR}/Chart.yaml`)) as {
      appVersion: string;
      kubeVersion: string;
      annotations: Record<string, string>;
    };
    expect(chart.appVersion).toBe(DEFAULT_ISTIO_TAG);
    expect(chart.kubeVersion).toBe(kubeVersionRange(BUNDLED_ISTIO_VERSIONS));
    // Rancher 2.12's clusters (Kubernetes 1.31 and 1.32) can install the chart.
    expect(chart.kubeVersion).toBe('>= 1.29.0-0 < 1.38.0-0');
    expect(chart.annotations['catalog.cattle.io/kube-version']).toBe(chart.kubeVersion);
  });

  test('kubeVersionRange turns the supported minors of some versions into one inclusive Helm range', () => {
    expect(kubeVersionRange(['1.30.4'])).toBe('>= 1.32.0-0 < 1.37.0-0');
    expect(kubeVersionRange(['1.25.0', '1.29.6'])).toBe('>= 1.29.0-0 < 1.36.0-0');
    expect(() => kubeVersionRange(['1.31.0', '1.2.0'])).toThrow(/ISTIO_KUBE_SUPPORT/);
  });
});

describe('chart values', () => {
  test.each(CHART_DIRS)('every key of %s/values.yaml has a `# --` comment', (dir) => {
    const { rows, undocumented } = parseValuesComments(read(`${dir}/values.yaml`));
    expect(undocumented).toEqual([]);
    expect(rows.length).toBeGreaterThan(5);
  });

  test("values.yaml holds exactly the schema's defaults", () => {
    const fromFile = valuesSchema.parse(load(read(`${CHART_DIR}/values.yaml`)));
    expect(fromFile).toEqual(valuesSchema.parse({}));
  });

  const scenarios = readdirSync(`${CHART_DIR}/ci`).filter((f) => f.endsWith('-values.yaml'));
  test('the scenarios the issue names are all there', () => {
    expect(scenarios.sort()).toEqual(
      [
        'airgap-values.yaml',
        'ambient-rke2-values.yaml',
        'defaults-values.yaml',
        'everything-values.yaml',
        'hardened-values.yaml',
        'minimal-values.yaml',
        'rancher-104-values.yaml',
        'rancher-107-values.yaml',
        'rke2-cni-values.yaml',
      ].sort(),
    );
  });

  test.each(scenarios)('ci/%s is accepted by the installer schema', (file) => {
    const result = valuesSchema.safeParse(load(read(`${CHART_DIR}/ci/${file}`)) ?? {});
    expect(result.error?.issues ?? []).toEqual([]);
  });

  test.each([
    ['rancher-104', '104.5.0'],
    ['rancher-107', '107.1.0'],
  ])('ci/%s-values.yaml is the Rancher %s values fixture, unchanged', (scenario, version) => {
    const body = (text: string) => text.replace(/^(#.*\n)+/, '');
    expect(body(read(`${CHART_DIR}/ci/${scenario}-values.yaml`))).toBe(
      body(read(`test/fixtures/rancher/${version}-values.yaml`)),
    );
  });
});

describe('parseValuesComments', () => {
  test('reads helm-docs comments: paths from indentation, continuation lines, list items skipped', () => {
    const text = [
      '# file header, not a key comment',
      '',
      '# -- Top level.',
      'a: 1',
      'b:',
      '  # -- Nested',
      '  # over two lines.',
      '  c: [x]',
      '  # -- A list of maps.',
      '  d:',
      '    - name: n',
      '      value: v',
      '  e: {}',
      '',
    ].join('\n');
    const { rows, undocumented } = parseValuesComments(text);
    expect(rows).toEqual([
      { key: 'a', type: 'int', default: '1', description: 'Top level.' },
      { key: 'b.c', type: 'list', default: '["x"]', description: 'Nested over two lines.' },
      { key: 'b.d', type: 'list', default: '[{"name":"n","value":"v"}]', description: 'A list of maps.' },
    ]);
    expect(undocumented).toEqual(['b.e']);
  });
});

describe("questions.yaml (Rancher's install form)", () => {
  interface Question {
    variable: string;
    default?: unknown;
    subquestions?: Question[];
  }
  const questions = (load(read(`${CHART_DIR}/questions.yaml`)) as { questions: Question[] }).questions;
  const all = questions.flatMap((q) => [q, ...(q.subquestions ?? [])]);
  // What Helm would merge: the subcharts' defaults under their names, the chart's own values on top.
  const defaults = {
    ...(load(read(`${CHART_DIR}/values.yaml`)) as Record<string, unknown>),
  };
  for (const sub of ['kiali', 'tracing']) {
    defaults[sub] = {
      ...(load(read(`${CHART_DIR}/charts/${sub}/values.yaml`)) as Record<string, unknown>),
      ...(defaults[sub] as Record<string, unknown>),
    };
  }
  const at = (path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>((cur, key) => (cur as Record<string, unknown> | undefined)?.[key], defaults);

  // The form proposes showing traces in Kiali once Jaeger is switched on; every other default is the chart's.
  const proposed: Record<string, unknown> = { 'kiali.external_services.tracing.enabled': true };

  test.each(all.map((q) => [q.variable, q.default] as const))(
    '%s is a value, with the same default',
    (variable, dflt) => {
      // A setting the profile decides has no default in values.yaml, and none in the form either: an answer the
      // user never gave must not override the profile.
      const path = variable.split('.');
      const isValue =
        at(variable) !== undefined || knownKeys(valuesSchema, path.slice(0, -1)).includes(path.at(-1) ?? '');
      expect([variable, isValue]).toEqual([variable, true]);
      expect(dflt).toEqual(variable in proposed ? proposed[variable] : at(variable));
    },
  );
});
