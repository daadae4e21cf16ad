// Rancher's install form (questions.yaml): every answer set it can produce is valid chart values, and the installer
// builds from it the IstioOperator each answer asks for. The chart tier renders a covering set with real helm
// (test/chart/rancher-form.test.ts).
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { buildIstioOperator } from '../../src/overlay/build.js';
import type { JsonObject } from '../../src/overlay/json.js';
import { valuesSchema } from '../../src/overlay/values-schema.js';
import {
  CHART_DIR,
  answerEffects,
  chartDefaults,
  choices,
  formAnswerSets,
  getPath,
  loadQuestions,
  mergeOver,
  userValues,
  type Answers,
  type Question,
} from '../helpers/rancher-form.js';

const questions = loadQuestions();
const defaults = chartDefaults();
/**
 * The questions whose answers do not reach the IstioOperator: the Kiali and Jaeger subcharts' (Jaeger's own switch
 * aside, which sets the zipkin address) and the release mirror's, which tells the installer where to fetch istioctl.
 * A test below shows that they leave it unchanged, so the full walk holds them at their defaults.
 */
const outsideIstioOperator = (q: { variable: string }) =>
  (q.variable.startsWith('kiali.') ||
    q.variable.startsWith('tracing.') ||
    q.variable.startsWith('installer.')) &&
  q.variable !== 'tracing.enabled';
const installerReads = (q: Question) => !outsideIstioOperator(q);

/** The installer's IstioOperator for what Helm would hand the install Job, or the problems it reports. */
function build(answers: Answers, registry = '') {
  const values = mergeOver(load(readFileSync(`${CHART_DIR}/values.yaml`, 'utf8')) as JsonObject, {
    ...userValues(answers, registry),
  });
  const schema = valuesSchema.safeParse(values);
  const built = buildIstioOperator({
    values: [{ label: 'form', value: values, locate: () => undefined }],
    overlays: [],
    sets: [],
  });
  return {
    schemaIssues: (schema.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`),
    built,
  };
}

function problemsOf(answers: Answers, registry = ''): string[] {
  const { schemaIssues, built } = build(answers, registry);
  if (!built.ok) return [...schemaIssues, ...built.issues.map((i) => `${i.path}: ${i.message}`)];
  return [...schemaIssues, ...answerEffects(answers, built.istioOperator, registry)];
}

describe("Rancher's form: questions.yaml", () => {
  test("Chart.yaml names no dashboard form of Rancher's, so Rancher shows questions.yaml", () => {
    const chart = load(readFileSync(`${CHART_DIR}/Chart.yaml`, 'utf8')) as {
      annotations: Record<string, string>;
    };
    expect(chart.annotations['catalog.cattle.io/ui-component']).toBeUndefined();
  });

  const all = formAnswerSets(questions, defaults, installerReads);
  // Split by the first three answers so that no single test runs for long on a loaded machine.
  const groups = new Map<string, Answers[]>();
  for (const answers of all) {
    const key = [
      `ambient ${String(answers['ambient.enabled'])}`,
      `CNI ${String(answers['cni.enabled'] ?? 'untouched')}`,
      `platform "${String(answers['cni.platform'])}"`,
    ].join(', ');
    groups.set(key, [...(groups.get(key) ?? []), answers]);
  }

  test('the walk reaches every answer of every question the installer reads', () => {
    for (const q of questions.flatMap((top) => [top, ...(top.subquestions ?? [])]).filter(installerReads)) {
      const seen = new Set(all.filter((a) => q.variable in a).map((a) => JSON.stringify(a[q.variable])));
      const offered = choices(q).filter((c) => c !== undefined);
      expect([q.variable, [...seen].sort()]).toEqual([
        q.variable,
        offered.map((c) => JSON.stringify(c)).sort(),
      ]);
    }
    expect(all.length).toBeGreaterThan(1000);
  });

  test.each([...groups.keys()])('%s: every combination of the other answers renders as asked', (key) => {
    const failures = (groups.get(key) ?? [])
      .map((answers) => ({ answers, problems: problemsOf(answers) }))
      .filter((r) => r.problems.length > 0);
    // The first few failures, each with the answers that produced it.
    expect(failures.slice(0, 3)).toEqual([]);
  });

  test("Kiali's, Jaeger's and the release mirror's answers, in every combination, never change the IstioOperator", () => {
    const otherSets = formAnswerSets(
      questions,
      defaults,
      (q) => q.variable === 'tracing.enabled' || outsideIstioOperator(q),
    );
    expect(otherSets.length).toBeGreaterThanOrEqual(50);
    for (const answers of otherSets) {
      const bare = Object.fromEntries(
        Object.entries(answers).filter(([v]) => !outsideIstioOperator({ variable: v })),
      );
      const a = build(answers).built;
      const b = build(bare).built;
      expect([answers, a.ok && a.istioOperator]).toEqual([answers, b.ok && b.istioOperator]);
      expect(problemsOf(answers)).toEqual([]);
    }
  });

  test("with Rancher's system default registry, every image comes from it", () => {
    const registry = 'registry.example.com:5000';
    for (const answers of formAnswerSets(questions, defaults, (q) =>
      ['ambient.enabled', 'cni.enabled', 'cni.platform'].includes(q.variable),
    ))
      expect([answers, problemsOf(answers, registry)]).toEqual([answers, []]);
  });

  test('show_if hides CNI in ambient mode, where an answer "off" would fail the install', () => {
    const ambient = formAnswerSets(questions, defaults).filter((a) => a['ambient.enabled'] === true);
    expect(ambient.length).toBeGreaterThan(0);
    expect(ambient.filter((a) => 'cni.enabled' in a)).toEqual([]);
    // What the form prevents: the installer refuses it.
    expect(problemsOf({ 'ambient.enabled': true, 'cni.enabled': false }).join('\n')).toContain('istio-cni');
    expect(getPath(defaults, 'ambient.enabled')).toBe(false);
  });
});
