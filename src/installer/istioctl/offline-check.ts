// Checks the merged spec with the target version's own `istioctl manifest generate`, offline, before the lock and
// before anything changes in the cluster: what that istioctl refuses (unknown fields in `values`, wrong types deep in
// `k8s`) becomes bad input (exit 2) located in the user's file, not a failed install found in a Job log.
//
// Why istioctl and not our schema: `values` is the Helm values of Istio's charts, thousands of fields that change
// with every minor; only the target istioctl knows its own. Our schema checks what is stable (spec, components, k8s
// and its list items) at render time, without a process; this catches the rest with the exact version's rules.
import { InputError, IstioctlError, type Issue } from '../../errors.js';
import { formatPath, isObject, type DocPath, type Json, type JsonObject } from '../../overlay/json.js';
import { objectAt } from '../model/spec.js';
import type { Istioctl } from './runner.js';

/** Where a key of the merged spec came from: file, line and column of its last writer, when known. */
export type SpecLocator = (specPath: DocPath) => Omit<Issue, 'message'>;

/**
 * `manifest generate` of the spec file, without the base component unless the spec gives base settings of its own.
 * Base is Istio's CRDs: some 85 % of the output and of the render's CPU (0.8 of 0.9 s with istioctl 1.31.0, 0.3 of
 * 0.45 s with 1.23.2), and no pod. Leaving it out loses no check of the spec: istioctl decodes and validates the whole
 * IstioOperator, `values.base` included, before it renders any component, and its templates' own checks (profile,
 * platform, compatibility version) are in every chart. What only base's render refuses is base's `k8s` settings
 * (istioctl 1.23.2 allows only `k8s.overlays` there, and an overlay must find its object), so a spec that has them
 * renders base too. `test/istioctl/offline-render.test.ts` proves it against every pinned istioctl. The install's own
 * render covers base before it changes anything.
 */
export function manifestGenerateArgs(specFile: string, spec: JsonObject): string[] {
  const args = ['manifest', 'generate', '-f', specFile];
  return baseHasSettings(spec) ? args : [...args, '--set', 'components.base.enabled=false'];
}

/** The spec sets something of the base component other than whether it is enabled. */
export function baseHasSettings(spec: JsonObject): boolean {
  const base = objectAt(spec, 'components').base;
  if (base === undefined) return false;
  // Not an object: istioctl is to say what is wrong with it, in the render that includes base.
  return !isObject(base) || Object.keys(base).some((key) => key !== 'enabled');
}

/** The field names istioctl's strict decoding names in its error (`unknown field "foo"`), in order, deduplicated. */
export function unknownFields(output: string): string[] {
  const names = [...output.matchAll(/unknown field "([^"]+)"/g)].map((match) => match[1] ?? '');
  return [...new Set(names.filter(Boolean))];
}

/** Paths under `spec` where a key named `key` occurs, depth first, in document order. */
export function pathsOfKey(value: Json | undefined, key: string, path: (string | number)[] = []): DocPath[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => pathsOfKey(item, key, [...path, i]));
  if (!isObject(value)) return [];
  return Object.entries(value).flatMap(([name, child]) => [
    ...(name === key ? [[...path, name]] : []),
    ...pathsOfKey(child, key, [...path, name]),
  ]);
}

/**
 * Runs `manifest generate` on the spec file; resolves with the manifest when istioctl accepts it, else throws InputError with one issue
 * per unknown field (located through `locate`), or the line of istioctl's output that says why.
 */
export async function checkWithIstioctl(
  tool: Istioctl,
  specFile: string,
  spec: JsonObject,
  locate: SpecLocator | undefined,
  signal?: AbortSignal,
): Promise<string> {
  try {
    return await tool.run(manifestGenerateArgs(specFile, spec), 120_000, signal);
  } catch (error) {
    if (!(error instanceof IstioctlError)) throw error;
    const why = `istioctl ${tool.binary} refuses it: ${error.message}`;
    const issues: Issue[] = unknownFields(error.stderr).flatMap((field) => {
      const paths = pathsOfKey(spec, field);
      if (paths.length === 0) return [];
      return paths.map((path) => ({
        ...(locate?.(path) ?? { path: `spec.${formatPath(path)}` }),
        message: `unknown field; ${why}`,
      }));
    });
    throw new InputError(issues.length > 0 ? issues : [{ path: 'spec', message: why }]);
  }
}
