// Rancher's install form (questions.yaml) through real helm v3 and v4: answer sets covering every pair of answers any two
// questions can give, each with the globals Rancher's dashboard adds, are accepted by values.schema.json and render
// what they ask for: the installer's IstioOperator (built from the ConfigMaps the Jobs read), Kiali, Jaeger, the
// mirror. test/unit/rancher-form.test.ts walks the full product through the installer alone.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { buildIstioOperator } from '../../src/overlay/build.js';
import { parseYamlSource, type ParsedSource } from '../../src/overlay/yaml-source.js';
import {
  allPairs,
  answerEffects,
  chartDefaults,
  formAnswerSets,
  formVariables,
  loadQuestions,
  userValues,
  type Answers,
} from '../helpers/rancher-form.js';
import { HELMS, renderChart, type KubeObject } from './render.js';

const questions = loadQuestions();
const sets = allPairs(formAnswerSets(questions, chartDefaults()), formVariables(questions));
const REGISTRY = 'registry.example.com:5000';
// Every other set installs from a private registry, as Rancher's system default registry would make it.
const cases = sets.map((answers, i) => ({ i, answers, registry: i % 2 === 1 ? REGISTRY : '' }));
const work = mkdtempSync(join(tmpdir(), 'rancher-form-'));

const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const configData = (objects: KubeObject[], name: string): Record<string, string> =>
  (find(objects, 'ConfigMap', name)?.data as Record<string, string> | undefined) ?? {};

function source(text: string, label: string): ParsedSource {
  const parsed = parseYamlSource(text, label);
  if (!parsed.ok) throw new Error(`${label}: ${parsed.issues.map((i) => i.message).join('; ')}`);
  return parsed.source;
}

/** What the install Job would build: the values ConfigMap as VALUES_FILE, each overlay file of the other one. */
function installerBuild(objects: KubeObject[]) {
  const values = configData(objects, 'rancher-istio-installer-values')['values.yaml'] ?? '';
  const overlays = Object.entries(configData(objects, 'rancher-istio-installer-overlays'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, text]) => source(text, name));
  return buildIstioOperator({ values: [source(values, 'values.yaml')], overlays, sets: [] });
}

interface KialiConfig {
  external_services: {
    prometheus: { url: string };
    grafana: { internal_url: string };
    tracing: { enabled: boolean };
  };
}

/** One line per thing the chart renders against the answers, none when it renders what they ask for. */
function chartEffects(answers: Answers, objects: KubeObject[], registry: string): string[] {
  const problems: string[] = [];
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted))
      problems.push(`${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
  };
  const kiali = answers['kiali.enabled'] === true;
  const tracing = answers['tracing.enabled'] === true;
  expect('Kiali Deployment', !!find(objects, 'Deployment', 'kiali'), kiali);
  expect('Jaeger Deployment', !!find(objects, 'Deployment', 'jaeger'), tracing);
  expect(
    'Jaeger PersistentVolumeClaim',
    objects.some((o) => o.kind === 'PersistentVolumeClaim'),
    tracing && answers['tracing.persistence.enabled'] === true,
  );
  expect(
    'mirror Deployment',
    !!find(objects, 'Deployment', 'rancher-istio-mirror'),
    answers['installer.releaseMirror.enabled'] === true,
  );
  const secret = find(objects, 'Secret', 'kiali') as { data?: Record<string, string> } | undefined;
  if (kiali && secret?.data?.['config.yaml']) {
    const config = load(Buffer.from(secret.data['config.yaml'], 'base64').toString('utf8')) as KialiConfig;
    expect(
      'Kiali Prometheus',
      config.external_services.prometheus.url,
      answers['kiali.external_services.prometheus.url'],
    );
    expect(
      'Kiali Grafana',
      config.external_services.grafana.internal_url,
      answers['kiali.external_services.grafana.in_cluster_url'],
    );
    if (tracing)
      expect(
        'Kiali shows traces',
        config.external_services.tracing.enabled,
        answers['kiali.external_services.tracing.enabled'],
      );
  }
  const job = find(objects, 'Job', 'rancher-istio-install') as
    { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
  const image = job?.spec.template.spec.containers[0]?.image ?? '';
  expect('installer image registry', image.startsWith(`${REGISTRY}/`), registry !== '');
  return problems;
}

test('the covering set is small and holds every answer of every question', () => {
  expect(sets.length).toBeLessThan(60);
  for (const variable of formVariables(questions)) {
    expect([variable, sets.some((a) => variable in a)]).toEqual([variable, true]);
  }
});

describe.each(HELMS)('helm %s', (_version, binary) => {
  test.each(cases)('answer set $i renders as asked', async ({ i, answers, registry }) => {
    const file = join(work, `${_version}-${i}.yaml`);
    writeFileSync(file, dump(userValues(answers, registry)));
    const { objects } = await renderChart(binary, undefined, ['-f', file]);
    const built = installerBuild(objects);
    const problems = built.ok
      ? [
          ...answerEffects(answers, built.istioOperator, registry),
          ...chartEffects(answers, objects, registry),
        ]
      : built.issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect({ answers, problems }).toEqual({ answers, problems: [] });
  });
});
