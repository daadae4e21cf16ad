// Real istioctl 1.30.4 and 1.31.0 on our renderings, offline (no cluster, no network): for every profile istioctl
// ships, `manifest generate` of our rendering yields the same objects as the plain profile, identical apart from
// Rancher's own additions (linux placement and the gateway Services' NodePorts), which are checked on their own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { load, loadAll } from 'js-yaml';
import { parseClientVersion } from '../../src/installer/find-istioctl.js';
import { isObject, type Json, type JsonObject } from '../../src/overlay/json.js';
import { PROFILE_COMPONENTS } from '../../src/overlay/profiles.js';
import { PROFILES } from '../../src/overlay/values-schema.js';
import { ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';
import { runCli } from '../helpers/run-cli.js';

interface KubeObject extends JsonObject {
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

const RANCHER_TOLERATION = { key: 'cattle.io/os', operator: 'Equal', value: 'linux', effect: 'NoSchedule' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'istioctl-profiles-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function file(content: string): string {
  const path = join(dir, `input-${fileCount++}.yaml`);
  writeFileSync(path, content);
  return path;
}

/** Runs the pinned istioctl with no kubeconfig and no network (a fresh network namespace). */
async function istioctl(version: string, args: string[]) {
  return execa('unshare', ['--net', '--', toolPaths().istioctl[version as '1.31.0'], ...args], {
    reject: false,
    env: { HOME: dir, KUBECONFIG: join(dir, 'absent'), PATH: process.env.PATH ?? '' },
    extendEnv: false,
  });
}

async function generate(version: string, args: string[]): Promise<KubeObject[]> {
  const r = await istioctl(version, ['manifest', 'generate', ...args]);
  if (r.exitCode !== 0)
    throw new Error(`istioctl ${version} manifest generate ${args.join(' ')}: ${r.stderr}`);
  return (loadAll(r.stdout) as (KubeObject | null)[]).filter((o): o is KubeObject => isObject(o));
}

/** Our rendering of a values file (and further CLI args), as the file istioctl gets. */
async function ours(values: string, args: string[] = []): Promise<string> {
  const run = await runCli(['render', '-f', file(values), ...args]);
  if (run.code !== 0) throw new Error(run.stderr);
  return file(run.stdout);
}

const keyOf = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objects: KubeObject[]) => new Map(objects.map((o) => [keyOf(o), o]));

function podSpec(o: KubeObject): JsonObject | undefined {
  const spec = o.spec;
  if (!isObject(spec) || !isObject(spec.template) || !isObject(spec.template.spec)) return undefined;
  return spec.template.spec;
}

/**
 * The object without what Rancher deliberately adds: pod nodeSelector and tolerations, and a gateway Service's type,
 * node ports and the fields only a LoadBalancer has. Everything else must be equal.
 */
function withoutRancherAdditions(o: KubeObject): KubeObject {
  const copy = structuredClone(o);
  const pod = podSpec(copy);
  if (pod) {
    delete pod.nodeSelector;
    delete pod.tolerations;
  }
  if (copy.kind === 'Service' && isObject(copy.spec) && /gateway/.test(copy.metadata.name)) {
    delete copy.spec.type;
    delete copy.spec.externalTrafficPolicy;
    if (Array.isArray(copy.spec.ports))
      for (const port of copy.spec.ports) if (isObject(port)) delete port.nodePort;
  }
  return copy;
}

function tolerationsOf(o: KubeObject): Json[] {
  const tolerations = podSpec(o)?.tolerations;
  return Array.isArray(tolerations) ? tolerations : [];
}

describe.each([...ISTIO_VERSIONS])('istioctl %s', (version) => {
  test('reports its own version offline as parseClientVersion reads it', async () => {
    const r = await istioctl(version, ['version', '--remote=false']);
    expect(r.exitCode).toBe(0);
    expect(parseClientVersion(r.stdout)).toBe(version);
  });

  test.each([...PROFILES])('profile dump %s: components as PROFILE_COMPONENTS says', async (profile) => {
    const r = await istioctl(version, ['profile', 'dump', profile]);
    expect(r.exitCode).toBe(0);
    const components = ((load(r.stdout) as JsonObject).spec as JsonObject).components as JsonObject;
    const expected = PROFILE_COMPONENTS[profile];
    const enabledOf = (name: string) => {
      const c = components[name];
      return isObject(c) && c.enabled === true;
    };
    expect({
      base: enabledOf('base'),
      pilot: enabledOf('pilot'),
      cni: enabledOf('cni'),
      ztunnel: enabledOf('ztunnel'),
      istiodRemote: enabledOf('istiodRemote'),
    }).toEqual(expected.enabled);
    expect(components.ingressGateways ?? []).toEqual(expected.ingressGateways);
    expect(components.egressGateways ?? []).toEqual(expected.egressGateways);
  });

  test.each([...PROFILES])(
    'profile %s: our rendering has the plain profile objects, equal but for Rancher placement and NodePorts',
    async (profile) => {
      const [mine, plain] = await Promise.all([
        ours(`profile: ${profile}\ntag: "${version}"\n`).then((f) => generate(version, ['-f', f])),
        generate(version, ['--set', `profile=${profile}`]),
      ]);
      const mineByKey = byKey(mine);
      const plainByKey = byKey(plain);
      expect([...mineByKey.keys()].sort()).toEqual([...plainByKey.keys()].sort());
      for (const [key, object] of mineByKey) {
        const other = plainByKey.get(key) as KubeObject;
        expect([key, withoutRancherAdditions(object)]).toEqual([key, withoutRancherAdditions(other)]);
        const pod = podSpec(object);
        if (!pod) continue;
        expect([key, pod.nodeSelector]).toEqual([
          key,
          expect.objectContaining({ 'kubernetes.io/os': 'linux' }),
        ]);
        // Rancher's toleration is added; the chart's own ones (node agents tolerate every taint) are kept.
        const tolerations = tolerationsOf(object);
        expect([key, tolerations]).toEqual([key, expect.arrayContaining(tolerationsOf(other))]);
        if (object.kind === 'Deployment') expect(tolerations).toContainEqual(RANCHER_TOLERATION);
      }
    },
  );
});
