// Rancher's install form for the chart (questions.yaml) as Rancher's dashboard fills it: every answer set it can
// produce, the values Rancher then hands to Helm, and what each answer must do to the installer's IstioOperator.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { isObject, type JsonObject } from '../../src/overlay/json.js';
import { componentEnabled, PROFILE_COMPONENTS } from '../../src/overlay/profiles.js';
import { DEFAULT_ISTIO_HUB } from '../../src/overlay/values-schema.js';

export const CHART_DIR = 'charts/rancher-istio';

export interface Question {
  variable: string;
  type: string;
  label?: string;
  default?: unknown;
  options?: unknown[];
  show_if?: string;
  show_subquestion_if?: unknown;
  subquestions?: Question[];
  group?: string;
}

/** A form's answers by variable; a variable the form leaves untouched (or hides) is absent. */
export type Answers = Record<string, unknown>;

export function loadQuestions(path = `${CHART_DIR}/questions.yaml`): Question[] {
  return (load(readFileSync(path, 'utf8')) as { questions: Question[] }).questions;
}

/** The chart's defaults as Helm merges them: the subcharts' values under their names, the chart's own on top. */
export function chartDefaults(): JsonObject {
  const defaults = load(readFileSync(`${CHART_DIR}/values.yaml`, 'utf8')) as JsonObject;
  for (const sub of ['kiali', 'tracing']) {
    const own = load(readFileSync(`${CHART_DIR}/charts/${sub}/values.yaml`, 'utf8')) as JsonObject;
    defaults[sub] = { ...own, ...(defaults[sub] as JsonObject) };
  }
  return defaults;
}

export const getPath = (root: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((cur, key) => (isObject(cur) ? cur[key] : undefined), root);

function setPath(root: JsonObject, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = root;
  for (const key of keys.slice(0, -1)) {
    if (!isObject(cur[key])) cur[key] = {};
    cur = cur[key] as JsonObject;
  }
  cur[keys.at(-1) ?? ''] = value as JsonObject[string];
}

/** Free text a user may type instead of a string question's default. */
const TYPED_TEXT: Record<string, string> = {
  'kiali.external_services.prometheus.url': 'http://prometheus.monitoring.svc:9090',
  'kiali.external_services.grafana.in_cluster_url': 'http://grafana.monitoring.svc:3000',
};
/** An overlay a user may paste: one more ingress gateway, in a namespace of the release's. */
export const FORM_OVERLAY = [
  'apiVersion: install.istio.io/v1alpha1',
  'kind: IstioOperator',
  'spec:',
  '  components:',
  '    ingressGateways:',
  '      - name: form-gateway',
  '        enabled: true',
  '',
].join('\n');

/**
 * What one question can hold once the form is shown: a boolean without a default stays untouched until clicked
 * (Rancher's checkbox then writes true, and false on the next click); one with a default starts there (the
 * dashboard writes the default on creation). Free text takes its default and one typed value.
 */
export function choices(q: Question): unknown[] {
  switch (q.type) {
    case 'boolean':
      return q.default === undefined ? [undefined, true, false] : [q.default, !q.default];
    case 'enum':
      return [...(q.options ?? [])];
    case 'string':
      return [q.default, TYPED_TEXT[q.variable] ?? 'typed-text'];
    case 'multiline':
      return [q.default ?? '', FORM_OVERLAY];
    default:
      throw new Error(`question ${q.variable}: no answers known for type ${q.type}; add them to choices()`);
  }
}

/**
 * Rancher's `show_if`: `a=b` and `a!=b` terms joined by `&&` or `||`, compared as the dashboard does (an unset
 * variable reads as the chart's default, booleans by their text).
 */
export function shown(expr: string | undefined, answers: Answers, defaults: JsonObject): boolean {
  if (expr === undefined) return true;
  const term = (text: string): boolean => {
    const m = /^\s*([^!=\s]+)\s*(!=|=)\s*(.*?)\s*$/.exec(text);
    if (!m) throw new Error(`show_if term not understood: ${text}`);
    const [, variable = '', op, right] = m;
    const value = variable in answers ? answers[variable] : getPath(defaults, variable);
    const equal = String(value ?? '') === right;
    return op === '=' ? equal : !equal;
  };
  if (expr.includes('||')) return expr.split('||').some(term);
  return expr.split('&&').every(term);
}

/** Whether a question's subquestions show for its answer (`show_subquestion_if: true` means "when on"). */
const subquestionsShown = (q: Question, answer: unknown): boolean =>
  q.show_subquestion_if === true ? answer === true : String(answer) === String(q.show_subquestion_if);

/**
 * Every answer set the form can produce, in question order. `vary` picks the questions (subquestions included)
 * whose choices are enumerated; the others keep their first choice (the default), which is what the form shows.
 */
export function formAnswerSets(
  questions: readonly Question[],
  defaults: JsonObject,
  vary: (q: Question) => boolean = () => true,
): Answers[] {
  // Flatten to (question, parent) so the walk can hide subquestions whose parent's answer does not show them.
  const flat: { q: Question; parent?: Question }[] = questions.flatMap((q) => [
    { q },
    ...(q.subquestions ?? []).map((sub) => ({ q: sub, parent: q })),
  ]);
  const out: Answers[] = [];
  const walk = (i: number, answers: Answers): void => {
    const entry = flat[i];
    if (!entry) {
      out.push(answers);
      return;
    }
    const { q, parent } = entry;
    const visible =
      shown(q.show_if, answers, defaults) &&
      (parent === undefined ||
        (parent.variable in answers && subquestionsShown(parent, answers[parent.variable])));
    if (!visible) {
      walk(i + 1, answers);
      return;
    }
    const all = choices(q);
    for (const choice of vary(q) ? all : all.slice(0, 1)) {
      walk(i + 1, choice === undefined ? answers : { ...answers, [q.variable]: choice });
    }
  };
  walk(0, {});
  return out;
}

/**
 * What Rancher's dashboard adds to every chart's values (its install page's `addGlobalValuesTo`): the cluster, the
 * Rancher URL, the system project and, for a chart whose values have a system default registry, that registry twice.
 */
export function rancherGlobals(registry = ''): JsonObject {
  return {
    global: {
      cattle: {
        clusterId: 'c-m-4x7qz2bd',
        clusterName: 'downstream',
        systemProjectId: 'p-8k2lm',
        url: 'https://rancher.example.com',
        rkePathPrefix: '',
        rkeWindowsPathPrefix: '',
        systemDefaultRegistry: registry,
      },
      systemDefaultRegistry: registry,
    },
  };
}

/** The values Rancher sends to Helm for a set of answers: the answers (its diff against the defaults) and its globals. */
export function userValues(answers: Answers, registry = ''): JsonObject {
  const values = rancherGlobals(registry);
  for (const [variable, value] of Object.entries(answers)) setPath(values, variable, value);
  return values;
}

/** Helm's merge of the user's values over the chart's defaults (maps merge, everything else replaces). */
export function mergeOver(base: JsonObject, top: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(top)) {
    const below = out[key];
    out[key] = isObject(below) && isObject(value) ? mergeOver(below, value) : value;
  }
  return out;
}

const CNI_BIN_DIRS: Record<string, string> = {
  rke2: '/opt/cni/bin',
  k3s: '/var/lib/rancher/k3s/data/current/bin',
};

/**
 * What each answer must do to the IstioOperator the installer builds; one line per broken promise, none when all
 * hold. Unanswered switches leave the decision to the profile.
 */
export function answerEffects(answers: Answers, iop: JsonObject, registry = ''): string[] {
  const spec = (isObject(iop.spec) ? iop.spec : {}) as JsonObject;
  const problems: string[] = [];
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted))
      problems.push(`${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
  };
  const ambient = answers['ambient.enabled'] === true;
  const profile = ambient ? 'ambient' : 'default';
  expect('spec.profile', spec.profile, profile);

  for (const [list, name] of [
    ['ingressGateways', 'istio-ingressgateway'],
    ['egressGateways', 'istio-egressgateway'],
  ] as const) {
    const entries = getPath(spec, `components.${list}`);
    const entry = Array.isArray(entries) ? entries.find((g) => isObject(g) && g.name === name) : undefined;
    const effective = isObject(entry) && entry.enabled !== false;
    const byProfile = PROFILE_COMPONENTS[profile][list].find((g) => g.name === name)?.enabled === true;
    const answer = answers[`${list}.enabled`];
    expect(`${name} installed`, effective, typeof answer === 'boolean' ? answer : byProfile);
    expect(
      `values.gateways.${name}.type`,
      getPath(spec, `values.gateways.${name}.type`),
      answers[`${list}.type`] ?? 'NodePort',
    );
  }

  const cniAnswer = answers['cni.enabled'];
  const cni = ambient || (typeof cniAnswer === 'boolean' ? cniAnswer : false);
  expect('istio-cni installed', componentEnabled(spec, 'cni'), cni);
  expect('ztunnel installed', componentEnabled(spec, 'ztunnel'), ambient);
  const platform = answers['cni.platform'] ?? '';
  if (cni) {
    expect('values.cni.cniBinDir', getPath(spec, 'values.cni.cniBinDir'), CNI_BIN_DIRS[String(platform)]);
    expect(
      'privileged install-cni',
      JSON.stringify(getPath(spec, 'components.cni.k8s.overlays') ?? []).includes('privileged'),
      platform !== '',
    );
  }

  expect(
    'DNS capture',
    getPath(spec, 'meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE'),
    answers['dns.enabled'] === true ? 'true' : undefined,
  );
  expect(
    'zipkin address',
    getPath(spec, 'meshConfig.defaultConfig.tracing.zipkin.address'),
    answers['tracing.enabled'] === true ? 'zipkin.istio-system.svc:9411' : undefined,
  );
  const gateways = getPath(spec, 'components.ingressGateways');
  expect(
    "the overlay's gateway",
    Array.isArray(gateways) && gateways.some((g) => isObject(g) && g.name === 'form-gateway'),
    answers.overlayFile === FORM_OVERLAY,
  );
  expect('spec.hub', spec.hub, registry === '' ? DEFAULT_ISTIO_HUB : `${registry}/istio`);
  return problems;
}

/**
 * A few answer sets that hold every pair of answers any two questions can give together (all-pairs), picked greedily
 * from `sets`: for slow checks (real helm) where the full product would take hours. A hidden or untouched variable
 * counts as an answer of its own.
 */
export function allPairs(sets: readonly Answers[], variables: readonly string[]): Answers[] {
  // Each (variable, answer) is a numbered cell; a pair of cells is one index into `covered`.
  const cellIds = new Map<string, number>();
  const cellsOf = sets.map((answers) =>
    variables.map((v) => {
      const key = `${v}=${v in answers ? JSON.stringify(answers[v]) : '-'}`;
      if (!cellIds.has(key)) cellIds.set(key, cellIds.size);
      return cellIds.get(key) ?? 0;
    }),
  );
  const n = cellIds.size;
  const covered = new Uint8Array(n * n);
  const fresh = (cells: number[]): number => {
    let count = 0;
    for (let a = 0; a < cells.length; a++)
      for (let b = a + 1; b < cells.length; b++)
        count += covered[(cells[a] ?? 0) * n + (cells[b] ?? 0)] ? 0 : 1;
    return count;
  };
  const picked: Answers[] = [];
  // Passes with a falling bar: first the sets that add many uncovered pairs, at last any that adds one.
  for (
    let bar = (variables.length * (variables.length - 1)) / 2;
    bar >= 1;
    bar = Math.min(bar - 1, Math.floor(bar * 0.8))
  ) {
    cellsOf.forEach((cells, i) => {
      if (fresh(cells) < bar) return;
      for (let a = 0; a < cells.length; a++)
        for (let b = a + 1; b < cells.length; b++) covered[(cells[a] ?? 0) * n + (cells[b] ?? 0)] = 1;
      picked.push(sets[i] as Answers);
    });
  }
  return picked;
}

/** Every variable of the form, subquestions included, in question order. */
export const formVariables = (questions: readonly Question[]): string[] =>
  questions.flatMap((q) => [q.variable, ...(q.subquestions ?? []).map((s) => s.variable)]);
