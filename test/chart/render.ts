// Renders charts/rancher-istio with the rig's pinned helm binaries and parses the objects, for the chart tests.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadAll } from 'js-yaml';
import { toolPaths, KUBE_VERSION } from '../cluster/tools.js';

export const CHART = 'charts/rancher-istio';
export const NAMESPACE = 'istio-system';
export const RELEASE = 'rancher-istio';
export const HELMS = [
  ['v3', toolPaths().helm3],
  ['v4', toolPaths().helm4],
] as const;
export const SCENARIOS = readdirSync(`${CHART}/ci`)
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => f.replace(/-values\.yaml$/, ''))
  .sort();

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

// Helm's own dirs in a temp dir, so the tests neither read nor write the user's helm configuration.
const helmHome = mkdtempSync(join(tmpdir(), 'chart-test-helm-'));
export const helmEnv = {
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

export function helm(binary: string, args: string[]) {
  return execa(binary, args, { reject: false, all: true, env: helmEnv });
}

/** `helm template` of one scenario (or none) plus extra flags; throws with helm's output when it fails. */
export async function renderChart(
  binary: string,
  scenario: string | undefined,
  extra: string[] = [],
): Promise<{ text: string; objects: KubeObject[] }> {
  const args = [
    'template',
    RELEASE,
    CHART,
    '--namespace',
    NAMESPACE,
    '--kube-version',
    KUBE_VERSION,
    ...(scenario ? ['-f', `${CHART}/ci/${scenario}-values.yaml`] : []),
    ...extra,
  ];
  const r = await helm(binary, args);
  if (r.exitCode !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.all}`);
  const objects = loadAll(r.stdout).filter((o): o is KubeObject => typeof o === 'object' && o !== null);
  return { text: r.stdout, objects };
}
