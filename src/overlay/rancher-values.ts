// Rancher's values read the way Rancher's chart read them: string scalars, its installer image keys, its chart lines.
import type * as z from 'zod';
import type { Issue } from '../errors.js';
import { isObject, type DocPath } from './json.js';
import { isRancherStringScalar, valuesSchema } from './values-schema.js';
import { issueAt } from './yaml-source.js';
import { unwrap, type LocatedData } from './zod-issues.js';

/** The rancher-istio lines whose values this chart takes, by the Istio minor of Rancher's installer image. */
export const RANCHER_LINES: readonly { istio: string; charts: string; rancher: string }[] = [
  { istio: '1.23', charts: '104.5.0+up1.23.2', rancher: '2.9, 2.10' },
  { istio: '1.24', charts: '105.5.1+up1.24.1, 107.0.0+up1.24.1', rancher: '2.11, 2.12' },
  { istio: '1.25', charts: '107.1.0+up1.25.0', rancher: '2.12' },
];

/** Top-level keys of Rancher's 1.7-1.8 lines that later lines dropped, and what replaced them. */
const RETIRED_RANCHER_KEYS: Record<string, string> = {
  istiocoredns:
    "a key of Rancher's Istio 1.7-1.8 charts; Istio's own DNS proxying replaced istio-coredns: use dns.enabled",
  policy: "a key of Rancher's Istio 1.7 charts (Mixer policy, removed in Istio 1.8): delete it",
  sidecarInjectorWebhook:
    "a key of Rancher's Istio 1.7 charts: injector settings now go under values.sidecarInjectorWebhook",
};

/** Unknown top-level keys that older Rancher lines had get what replaced them instead of a spelling suggestion. */
export function explainRetiredRancherKeys(issues: readonly Issue[]): Issue[] {
  return issues.map((issue) => {
    const reason = RETIRED_RANCHER_KEYS[issue.path];
    return reason && issue.message.startsWith('unknown key')
      ? { ...issue, message: `unknown key: ${reason}` }
      : issue;
  });
}

/** Rancher tagged its installer image `<istio version>-rancher<n>`: the one key that tells which line wrote a file. */
const RANCHER_INSTALLER_TAG = /^(\d+)\.(\d+)\.\d+(?:-[0-9A-Za-z.]+)?-rancher\d+$/;

/**
 * Values of a Rancher line this chart does not know: their keys may mean something else (older lines had other
 * gateways, Kiali and image keys), so they are refused rather than half understood.
 */
export function checkRancherLine(data: unknown, where: LocatedData): Issue[] {
  const tag = isObject(data) && isObject(data.installer) ? data.installer.tag : undefined;
  if (typeof tag !== 'string') return [];
  const match = RANCHER_INSTALLER_TAG.exec(tag);
  if (!match) return [];
  const minor = `${match[1]}.${match[2]}`;
  if (RANCHER_LINES.some((line) => line.istio === minor)) return [];
  const known = RANCHER_LINES.map((line) => `${line.charts} (Istio ${line.istio})`).join(', ');
  return [
    issueAt(
      where,
      ['installer', 'tag'],
      `"${tag}" is the installer of a rancher-istio line for Istio ${minor}, whose values this chart does not know; ` +
        `known lines: ${known}. Upgrade rancher-istio in Rancher to one of them first, or, if this file is not ` +
        `Rancher's, remove installer.repository and installer.tag (the installer image is installer.image).`,
    ),
  ];
}

/**
 * One warning for each of Rancher's keys given as a string ("true", "30"): read with its evident meaning, which
 * for "false" differs from Rancher's templates (Go templates take every non-empty string as true).
 */
export function rancherStringWarnings(data: unknown, where: LocatedData): Issue[] {
  const found: { path: DocPath; text: string }[] = [];
  collectStrings(valuesSchema, data, [], found);
  return found.map(({ path, text }) => {
    const read = text === 'true' || text === 'false' ? `the boolean ${text}` : `the number ${text}`;
    const rancher =
      text === 'false'
        ? ' (Rancher\'s chart took every non-empty string as true, so "false" was on there)'
        : '';
    return issueAt(where, path, `the string "${text}" is read as ${read}${rancher}; write it without quotes`);
  });
}

function collectStrings(
  schema: z.core.$ZodType | undefined,
  data: unknown,
  path: DocPath,
  found: { path: DocPath; text: string }[],
): void {
  const node = unwrap(schema);
  if (!node) return;
  if (isRancherStringScalar(node)) {
    if (typeof data === 'string') found.push({ path, text: data });
    return;
  }
  if (node._zod.def.type !== 'object' || !isObject(data)) return;
  const shape = (node._zod.def as z.core.$ZodObjectDef).shape;
  for (const [key, value] of Object.entries(data)) collectStrings(shape[key], value, [...path, key], found);
}

/** Rancher's installer image keys are accepted and ignored: say so, since a user may have set them on purpose. */
export function rancherInstallerWarnings(data: unknown, where: LocatedData): Issue[] {
  const installer = isObject(data) && isObject(data.installer) ? data.installer : {};
  return (['repository', 'tag'] as const)
    .filter((key) => typeof installer[key] === 'string' && installer[key] !== '')
    .map((key) =>
      issueAt(
        where,
        ['installer', key],
        `Rancher's installer image key is ignored: the Jobs run this chart's installer (installer.image.${key}), ` +
          `since Rancher's image runs Rancher's install script, not istio-installer`,
      ),
    );
}
