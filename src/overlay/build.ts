// The pure pipeline: parsed values files + overlays + --set flags -> one validated, merged IstioOperator.
import type * as z from 'zod';
import type { Issue } from '../errors.js';
import { istioOperatorSchema, UNSET_WHEN_EMPTY } from './iop-schema.js';
import { formatPath, getAt, isObject, type DocPath, type Json, type JsonObject } from './json.js';
import { istioOperatorListKeys, mergeDocuments, noListKeys } from './merge.js';
import {
  componentEnabled,
  effectiveProfile,
  withoutUnaskedComponents,
  withProfileGateways,
} from './profiles.js';
import { withPodSecurity } from './pod-security.js';
import { compileAccepts, type Accepts } from './schema-check.js';
import { applySetFlag, parseSetFlag, type SetFlag } from './set-path.js';
import {
  valuesProfile,
  valuesToIstioOperator,
  DEFAULT_NAMESPACE,
  ISTIO_OPERATOR_API_VERSION,
  ISTIO_OPERATOR_KIND,
} from './values-to-iop.js';
import { valuesSchema, type Values } from './values-schema.js';
import {
  checkRancherLine,
  explainRetiredRancherKeys,
  rancherInstallerWarnings,
  rancherStringWarnings,
} from './rancher-values.js';
import { issueAt, nestedLocator, parseYamlSource, type Locator, type ParsedSource } from './yaml-source.js';
import { toIssues, type LocatedData } from './zod-issues.js';

export interface BuildInput {
  /** Values files in the order given; later ones win, as with Helm's `-f`. */
  values: readonly ParsedSource[];
  /** Overlay files given on the command line, after the values' own `overlayFile` and `overlays`. */
  overlays: readonly ParsedSource[];
  /** `--set PATH=VALUE` arguments, applied last. */
  sets: readonly string[];
  namespace?: string;
}

export type BuildResult =
  | {
      ok: true;
      istioOperator: JsonObject;
      values: Values;
      /** Where a key of the merged spec came from, for problems found later (istioctl's offline check). */
      locate: (specPath: DocPath) => Omit<Issue, 'message'>;
      /** Accepted input that may not mean what its author thinks (Rancher's string booleans, its installer image). */
      warnings: Issue[];
      /**
       * No input names the Istio version (`tag` empty, no overlay or --set writes spec.tag): the installer chooses it
       * by the cluster's Kubernetes, and `spec.tag` holds DEFAULT_ISTIO_TAG only as what `render` shows.
       */
      autoVersion: boolean;
    }
  | { ok: false; issues: Issue[] };

/** Builds the IstioOperator, or reports every problem found in every input. Pure. */
export function buildIstioOperator(input: BuildInput): BuildResult {
  const loaded = loadValues(input.values);
  if (!loaded.ok) {
    // The values are broken, so nothing can be merged; still report what is wrong with the other inputs.
    const others = input.overlays.flatMap((overlay) => {
      const kindIssues = checkOverlayKind(overlay);
      return kindIssues.length > 0 ? kindIssues : checkOverlayFields(overlay);
    });
    const setIssues = input.sets.flatMap((text, i) => {
      const parsed = parseSetFlag(text, `--set[${i}]`);
      return parsed.ok ? [] : [parsed.issue];
    });
    return { ok: false, issues: [...loaded.issues, ...others, ...setIssues] };
  }
  const { values, where, warnings } = loaded;

  const issues: Issue[] = [];
  const overlays: ParsedSource[] = [];
  for (const overlay of [...valueOverlays(values, where), ...input.overlays]) {
    if ('issues' in overlay) issues.push(...overlay.issues);
    else {
      const problems = checkOverlayKind(overlay);
      if (problems.length > 0) issues.push(...problems);
      else overlays.push(withoutUnsetFields(overlay));
    }
  }
  const sets: SetFlag[] = [];
  const setLabels: string[] = [];
  input.sets.forEach((text, i) => {
    const parsed = parseSetFlag(text, `--set[${i}]`);
    if (!parsed.ok) issues.push(parsed.issue);
    else if (!isUnsetFlag(parsed.flag)) {
      sets.push(parsed.flag);
      setLabels.push(`--set[${i}]`);
    }
  });
  if (values.ambient.enabled && !valuesProfile(values))
    issues.push(
      issueAt(
        where,
        ['ambient', 'enabled'],
        `profile "${values.profile}" has no ambient variant; use profile "default" (becomes "ambient") or "openshift" (becomes "openshift-ambient"), or set ambient.enabled: false`,
      ),
    );
  if (issues.length > 0) return { ok: false, issues };

  let merged = valuesToIstioOperator(values, input.namespace ?? DEFAULT_NAMESPACE);
  for (const overlay of overlays)
    merged = mergeDocuments(merged, overlay.value, istioOperatorListKeys) as JsonObject;

  let spec = isObject(merged.spec) ? merged.spec : {};
  sets.forEach((flag, i) => {
    const applied = applySetFlag(spec, flag);
    if (applied.ok) spec = applied.spec;
    else issues.push({ file: setLabels[i], path: flag.text, message: applied.message });
  });
  if (issues.length > 0) return { ok: false, issues };
  // Only now is the profile final (an overlay or --set may change it), so only now can its gateways be filled in
  // and the entries of components it leaves off be dropped.
  spec = withoutUnaskedComponents(withProfileGateways(spec), (name) =>
    userWroteComponent(name, overlays, sets),
  );
  // After the overlays, so that the gateways they add get it too; the tag is final here as well.
  spec = withPodSecurity(
    spec,
    values.podSecurity.seccompProfile,
    typeof spec.tag === 'string' ? spec.tag : '',
  );
  merged = { ...merged, spec };

  // Validating the merged result once is the fast path, and only its verdict is needed. Only when it fails does zod
  // run, and then each overlay is validated on its own, so that every problem is reported at its file, line and key.
  const final = acceptsIstioOperator(merged) ? undefined : istioOperatorSchema.safeParse(merged);
  if (final === undefined || final.success) {
    const writers: Writers = { values: where, overlays, sets, setLabels };
    const ambientIssues = checkAmbientNeedsCni(spec, writers);
    if (ambientIssues.length > 0) return { ok: false, issues: ambientIssues };
    return {
      ok: true,
      istioOperator: merged,
      values,
      locate: specLocator(writers),
      warnings,
      autoVersion: values.tag === '' && !userWroteTag(overlays, sets),
    };
  }
  const located = overlays.flatMap(checkOverlayFields);
  if (located.length > 0) return { ok: false, issues: located };
  return {
    ok: false,
    issues: toIssues(final.error.issues, istioOperatorSchema, {
      label: sets.length > 0 ? 'merged IstioOperator (after --set)' : 'merged IstioOperator',
      locate: () => undefined,
      data: merged,
    }),
  };
}

let compiledIstioOperatorCheck: Accepts | undefined;
/** Whether zod would accept this IstioOperator (compiled on first use: `render --help` never needs it). */
function acceptsIstioOperator(document: JsonObject): boolean {
  compiledIstioOperatorCheck ??= compileAccepts(istioOperatorSchema);
  return compiledIstioOperatorCheck(document);
}

type ValuesResult =
  { ok: true; values: Values; where: LocatedData; warnings: Issue[] } | { ok: false; issues: Issue[] };

function loadValues(sources: readonly ParsedSource[]): ValuesResult {
  const issues: Issue[] = [];
  let merged: Json | undefined = {};
  for (const source of sources) {
    if (source.value === undefined) continue;
    if (!isObject(source.value)) {
      issues.push(issueAt(source, [], 'a values file must be a map of keys'));
      continue;
    }
    merged = mergeDocuments(merged, source.value, noListKeys);
  }
  if (issues.length > 0) return { ok: false, issues };
  const where: LocatedData = {
    label: sources.at(-1)?.label ?? 'values',
    locate: lastWriterLocator(sources),
    data: merged,
  };
  const lineIssues = checkRancherLine(merged, where);
  const parsed = valuesSchema.safeParse(merged ?? {});
  if (!parsed.success)
    return {
      ok: false,
      issues: [
        ...lineIssues,
        ...explainRetiredRancherKeys(toIssues(parsed.error.issues, valuesSchema, where)),
      ],
    };
  if (lineIssues.length > 0) return { ok: false, issues: lineIssues };
  const warnings = [...rancherStringWarnings(merged, where), ...rancherInstallerWarnings(merged, where)];
  return { ok: true, values: parsed.data, where, warnings };
}

/** Several values files: a key's position is where the last file that sets it writes it. */
function lastWriterLocator(sources: readonly ParsedSource[]): Locator {
  return (path) => {
    let best: { depth: number; source: ParsedSource } | undefined;
    for (const source of [...sources].reverse()) {
      const depth = existingDepth(source.value, path);
      if (depth === path.length) return source.locate(path);
      if (!best || depth > best.depth) best = { depth, source };
    }
    return best?.source.locate(path);
  };
}

function existingDepth(root: unknown, path: DocPath): number {
  for (let depth = path.length; depth > 0; depth--)
    if (getAt(root, path.slice(0, depth)) !== undefined) return depth;
  return 0;
}

/** `overlayFile` then each of `overlays`, as parsed sources located inside the values file that wrote them. */
function valueOverlays(values: Values, where: LocatedData): (ParsedSource | { issues: Issue[] })[] {
  const out: (ParsedSource | { issues: Issue[] })[] = [];
  const fromString = (text: string, path: DocPath) => {
    const file = where.locate(path)?.file ?? where.label;
    const parsed = parseYamlSource(text, `${file}#${formatPath(path)}`);
    return parsed.ok ? parsed.source : { issues: parsed.issues };
  };
  if (values.overlayFile.trim() !== '') out.push(fromString(values.overlayFile, ['overlayFile']));
  values.overlays.forEach((overlay, i) => {
    if (typeof overlay === 'string') out.push(fromString(overlay, ['overlays', i]));
    else {
      const file = where.locate(['overlays', i])?.file ?? where.label;
      out.push({ label: file, value: overlay as Json, locate: nestedLocator(where.locate, ['overlays', i]) });
    }
  });
  return out;
}

/** One overlay must be exactly one IstioOperator. */
function checkOverlayKind(overlay: ParsedSource): Issue[] {
  if (overlay.value === undefined) return [issueAt(overlay, [], `empty: expected an ${ISTIO_OPERATOR_KIND}`)];
  if (!isObject(overlay.value)) return [issueAt(overlay, [], `expected an ${ISTIO_OPERATOR_KIND} map`)];
  const { apiVersion, kind } = overlay.value;
  if (kind !== ISTIO_OPERATOR_KIND)
    return [issueAt(overlay, ['kind'], `expected kind ${ISTIO_OPERATOR_KIND}, got ${describe(kind)}`)];
  if (apiVersion !== ISTIO_OPERATOR_API_VERSION)
    return [
      issueAt(
        overlay,
        ['apiVersion'],
        `expected apiVersion ${ISTIO_OPERATOR_API_VERSION}, got ${describe(apiVersion)}`,
      ),
    ];
  return [];
}

/** One overlay's fields, checked as istioctl would; deletions (null) are always allowed. */
function checkOverlayFields(overlay: ParsedSource): Issue[] {
  const withoutDeletions = mergeDocuments(undefined, overlay.value, istioOperatorListKeys);
  const result = istioOperatorSchema.safeParse(withoutDeletions);
  return result.success
    ? []
    : toIssues(result.error.issues, istioOperatorSchema as z.ZodType, { ...overlay, data: withoutDeletions });
}

/** Whether an overlay or a --set flag wrote anything under `spec.components.<name>`. */
function userWroteComponent(
  name: string,
  overlays: readonly ParsedSource[],
  sets: readonly SetFlag[],
): boolean {
  return (
    overlays.some((overlay) => getAt(overlay.value, ['spec', 'components', name]) !== undefined) ||
    sets.some((flag) => {
      const [first, second] = flag.path;
      return (
        first?.kind === 'key' && first.key === 'components' && second?.kind === 'key' && second.key === name
      );
    })
  );
}

/** Whether an overlay or --set names the Istio version (`spec.tag`; an empty one is unset, and dropped before). */
function userWroteTag(overlays: readonly ParsedSource[], sets: readonly SetFlag[]): boolean {
  return (
    overlays.some((overlay) => getAt(overlay.value, ['spec', 'tag']) !== undefined) ||
    sets.some((flag) => flag.path.length === 1 && flag.path[0]?.kind === 'key' && flag.path[0].key === 'tag')
  );
}

/** An overlay without the top-level fields it sets to "": istioctl reads those as unset, so they override nothing. */
function withoutUnsetFields(overlay: ParsedSource): ParsedSource {
  const spec = isObject(overlay.value) ? overlay.value.spec : undefined;
  if (!isObject(spec) || !UNSET_WHEN_EMPTY.some((key) => spec[key] === '')) return overlay;
  const kept = Object.fromEntries(
    Object.entries(spec).filter(([key, value]) => !(value === '' && isUnsetKey(key))),
  );
  return { ...overlay, value: { ...(overlay.value as JsonObject), spec: kept } };
}

function isUnsetKey(key: string): boolean {
  return (UNSET_WHEN_EMPTY as readonly string[]).includes(key);
}

/** `--set revision=` and the like: istioctl reads the empty value as unset, so the flag changes nothing. */
function isUnsetFlag(flag: SetFlag): boolean {
  const [first] = flag.path;
  return flag.path.length === 1 && first?.kind === 'key' && isUnsetKey(first.key) && flag.value === '';
}

interface Writers {
  values: LocatedData;
  overlays: readonly ParsedSource[];
  sets: readonly SetFlag[];
  setLabels: readonly string[];
}

/**
 * ztunnel without istio-cni installs, but ambient pods then never get their traffic redirected. Reported where the
 * user switched istio-cni off, else where they switched ztunnel on.
 */
function checkAmbientNeedsCni(spec: JsonObject, writers: Writers): Issue[] {
  if (!componentEnabled(spec, 'ztunnel') || componentEnabled(spec, 'cni')) return [];
  const profile = effectiveProfile(spec);
  const message = `ztunnel is enabled but istio-cni is not (profile "${profile}"): ambient pods would get no traffic redirected; enable istio-cni (cni.enabled: true, or components.cni.enabled: true) or disable ztunnel`;
  const located =
    lastWriter(['components', 'cni', 'enabled'], ['cni', 'enabled'], writers) ??
    lastWriter(['components', 'ztunnel', 'enabled'], ['ambient', 'enabled'], writers);
  return [located ? located(message) : { path: 'spec.components.ztunnel.enabled', message }];
}

/** Where the user last wrote `spec.<specPath>`, as an issue factory: a --set flag, an overlay, or the values key. */
function lastWriter(
  specPath: DocPath,
  valuesPath: DocPath | undefined,
  writers: Writers,
): ((message: string) => Issue) | undefined {
  const wanted = specPath.join('.');
  for (let i = writers.sets.length - 1; i >= 0; i--) {
    const flag = writers.sets[i] as SetFlag;
    const keys = flag.path.map((segment) =>
      segment.kind === 'key' ? segment.key : segment.kind === 'index' ? String(segment.index) : '#',
    );
    // The flag wrote this key or something inside it.
    if (`${keys.join('.')}.`.startsWith(`${wanted}.`))
      return (message) => ({ file: writers.setLabels[i], path: flag.text, message });
  }
  for (const overlay of [...writers.overlays].reverse())
    if (getAt(overlay.value, ['spec', ...specPath]) !== undefined)
      return (message) => issueAt(overlay, ['spec', ...specPath], message);
  if (valuesPath && getAt(writers.values.data, valuesPath) !== undefined)
    return (message) => issueAt(writers.values, valuesPath, message);
  return undefined;
}

/** The values key that writes a spec path verbatim: `values.*` and `meshConfig.*` pass through. */
function valuesPathOf(specPath: DocPath): DocPath | undefined {
  const [first, ...rest] = specPath;
  return first === 'values' || first === 'meshConfig' ? [first, ...rest] : undefined;
}

/** Locates any key of the merged spec at its last writer, for errors found after the merge (istioctl's own). */
function specLocator(writers: Writers): (specPath: DocPath) => Omit<Issue, 'message'> {
  return (specPath) => {
    const located = lastWriter(specPath, valuesPathOf(specPath), writers)?.('');
    if (!located) return { file: 'merged IstioOperator', path: `spec.${formatPath(specPath)}` };
    return { file: located.file, line: located.line, col: located.col, path: located.path };
  };
}

function describe(value: Json | undefined): string {
  return value === undefined ? 'none' : JSON.stringify(value);
}
