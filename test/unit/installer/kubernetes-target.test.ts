// The Istio version a run installs, by the cluster's Kubernetes: an empty tag takes the newest at hand that it
// supports and says what it held back; a named one it does not support is refused before anything changes; a
// taken-over Rancher 2.12 install steps through the versions at hand. Fake API server, our logic only.
import { PreconditionError } from '../../../src/errors.js';
import { makePlan, planReport } from '../../../src/installer/actions/plan.js';
import { readStatus } from '../../../src/installer/actions/status.js';
import { formatStatus } from '../../../src/installer/decide/status.js';
import type { InstallerDeps } from '../../../src/installer/deps.js';
import { DEFAULT_ISTIO_TAG } from '../../../src/overlay/values-schema.js';
import { FakeKube, istiodDeployment } from '../../helpers/fake-kube.js';
import { installRequest } from '../../helpers/install-request.js';

const NS = 'istio-system';
const AT_HAND = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];

/** What render makes of values with an empty tag: the default version, Rancher's pinned pilot image following it. */
const rendered = (tag = DEFAULT_ISTIO_TAG) => ({
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: {
    tag,
    components: { pilot: { enabled: true } },
    values: { pilot: { image: `rancher/mirrored-istio-pilot:${tag}-distroless` } },
  },
});

function cluster(kubeVersion: string, istiod?: string): FakeKube {
  const kube = new FakeKube();
  kube.kubeVersion = kubeVersion;
  kube.namespaces.push({ metadata: { name: NS } });
  if (istiod) kube.deployments.push(istiodDeployment({ version: istiod }));
  return kube;
}

function deps(kube: FakeKube, available = AT_HAND): InstallerDeps {
  return {
    kube,
    runner: { run: async () => ({ exitCode: 0, stdout: '', stderr: '', timedOut: false }) },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => new Date(Date.UTC(2026, 11, 5)),
    sleep: async () => undefined,
    env: {},
    istioctlFor: async () => '/fake/istioctl',
    istioctlVersions: async () => available,
    platform: { os: 'linux', arch: 'amd64' },
    writeTempFile: async (name) => `/tmp/fake/${name}`,
    holder: 'process:this-host/2',
    hostname: 'this-host',
    isProcessAlive: () => false,
    lockSeconds: 60,
  };
}

const specOf = (decided: Awaited<ReturnType<typeof makePlan>>) =>
  decided.plan.istioOperator.spec as { tag: string; values: { pilot: { image: string } } };

describe('an empty tag: the newest Istio at hand that the cluster supports', () => {
  test("Rancher 2.12's Kubernetes 1.31 gets 1.29.6, every pinned image with it, and is told what was held back", async () => {
    const kube = cluster('v1.31.9+rke2r1');
    const decided = await makePlan(installRequest(rendered(), { autoVersion: true }), deps(kube));
    expect(specOf(decided).tag).toBe('1.29.6');
    expect(specOf(decided).values.pilot.image).toBe('rancher/mirrored-istio-pilot:1.29.6-distroless');
    const report = planReport(decided.plan, decided.state, decided.notes);
    expect(report).toContain(
      '  version: Istio 1.29.6, the newest at hand that Kubernetes 1.31 supports (tag is empty)',
    );
    expect(report).toContain(
      '  held back: Istio 1.31.0 needs Kubernetes >= 1.32; this cluster runs 1.31: installed 1.29.6; upgrade Kubernetes, then upgrade again',
    );
    expect(kube.writes).toEqual([]);
  });

  test('Kubernetes 1.32 and 1.36 get 1.31.0 with nothing held back', async () => {
    for (const version of ['v1.32.5', 'v1.36.3']) {
      const decided = await makePlan(
        installRequest(rendered(), { autoVersion: true }),
        deps(cluster(version)),
      );
      expect(specOf(decided).tag).toBe('1.31.0');
      expect(decided.notes.join('\n')).not.toContain('held back');
    }
  });

  test("images Rancher's values pin to the installed release (tag emptied, image tags kept) follow the chosen version", async () => {
    const pinned = rendered();
    pinned.spec.values.pilot.image = 'rancher/mirrored-istio-pilot:1.25.0-distroless';
    const proxy = 'rancher/mirrored-istio-proxyv2:1.25.0-distroless';
    const spec = { ...pinned.spec, values: { ...pinned.spec.values, global: { proxy: { image: proxy } } } };
    const fresh = await makePlan(
      installRequest({ ...pinned, spec }, { autoVersion: true }),
      deps(cluster('v1.32.5')),
    );
    expect(fresh.plan.istioOperator.spec).toMatchObject({
      tag: '1.31.0',
      values: {
        pilot: { image: 'rancher/mirrored-istio-pilot:1.31.0-distroless' },
        global: { proxy: { image: 'rancher/mirrored-istio-proxyv2:1.31.0-distroless' } },
      },
    });
    expect(fresh.notes).toContain(
      "  images: pinned to Istio 1.25.0; they follow the chosen version, as every hop's do (tag is empty)",
    );
    // Taking over Rancher 2.12's 1.25.0: the first hop runs 1.27.9's images, not 1.25.0's under revision 1-27.
    const stepped = await makePlan(
      installRequest({ ...pinned, spec }, { autoVersion: true, strategy: 'RevisionBased' }),
      deps(cluster('v1.32.5', '1.25.0')),
    );
    expect(specOf(stepped).values.pilot.image).toBe('rancher/mirrored-istio-pilot:1.27.9-distroless');
  });

  test('no version at hand supports the cluster: exit 3 naming each with its range, nothing written', async () => {
    const kube = cluster('v1.28.4');
    const error = await makePlan(
      installRequest(rendered(), { autoVersion: true }),
      deps(kube, ['1.30.4', '1.31.0']),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toBe(
      'no Istio at hand supports Kubernetes 1.28: 1.31.0 (Kubernetes 1.32-1.37), 1.30.4 (Kubernetes 1.32-1.36)',
    );
    expect((error as PreconditionError).hint).toMatch(
      /^add the istioctl of a version that supports it to the release mirror \("istio-installer mirror add --dir DIR istioctl-<version>-linux-<arch>\.tar\.gz"; for a stepped path .*"istio-installer prepare-site --dir DIR --chart CHART -f VALUES --kube 1\.28 --from <running version> --istio-version <each hop>"/,
    );
    expect(kube.writes).toEqual([]);
  });
});

describe('a named version', () => {
  test('one the cluster does not support is refused before anything changes, naming both', async () => {
    const kube = cluster('v1.31.2');
    const error = await makePlan(installRequest(rendered('1.31.0')), deps(kube)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toBe(
      'Istio 1.31.0 supports Kubernetes 1.32-1.37; this cluster runs Kubernetes 1.31',
    );
    expect((error as PreconditionError).hint).toContain('upgrade.allowUnsupportedKubernetes: true');
    expect(kube.writes).toEqual([]);
  });

  test('upgrade.allowUnsupportedKubernetes installs it anyway, saying so', async () => {
    const decided = await makePlan(
      installRequest(rendered('1.31.0'), { allowUnsupportedKubernetes: true }),
      deps(cluster('v1.31.2')),
    );
    expect(specOf(decided).tag).toBe('1.31.0');
    expect(decided.notes).toContain(
      '  warning: Istio 1.31.0 supports Kubernetes 1.32-1.37; this cluster runs Kubernetes 1.31; installing anyway (upgrade.allowUnsupportedKubernetes: true)',
    );
  });

  test('one the cluster supports goes ahead as named, even when a newer one is at hand', async () => {
    const decided = await makePlan(installRequest(rendered('1.30.4')), deps(cluster('v1.32.5')));
    expect(specOf(decided).tag).toBe('1.30.4');
    expect(decided.notes).toEqual([]);
  });
});

describe('stepped upgrades through what is at hand, every hop supported', () => {
  test('from 1.25.0 on Kubernetes 1.32 with an empty tag: 1.27.9, 1.29.6, then 1.31.0', async () => {
    const decided = await makePlan(
      installRequest(rendered(), { autoVersion: true, strategy: 'RevisionBased' }),
      deps(cluster('v1.32.5', '1.25.0')),
    );
    expect(decided.hops.map((h) => h.version)).toEqual(['1.27.9', '1.29.6', '1.31.0']);
    expect(specOf(decided).tag).toBe('1.27.9');
  });

  test('from 1.24.1 on Kubernetes 1.31 with an empty tag: through 1.25.0 and 1.27.9 to 1.29.6', async () => {
    const decided = await makePlan(
      installRequest(rendered(), { autoVersion: true, strategy: 'RevisionBased' }),
      deps(cluster('v1.31.4', '1.24.1')),
    );
    expect(decided.hops.map((h) => h.version)).toEqual(['1.25.0', '1.27.9', '1.29.6']);
  });

  test('no hop the cluster supports: exit 3 before anything changes', async () => {
    // 1.26 and 1.27 end at Kubernetes 1.33: from 1.25 on 1.34 the first hop is nowhere supported.
    const kube = cluster('v1.34.1', '1.25.0');
    const error = await makePlan(
      installRequest(rendered('1.29.6'), { strategy: 'RevisionBased' }),
      deps(kube, ['1.27.9', '1.29.6']),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'no path from Istio 1.25.0 to 1.29.6 has every hop supported on Kubernetes 1.34 (each hop is at most two minors)',
    );
    expect(kube.writes).toEqual([]);
  });
});

describe('status says what Kubernetes holds back', () => {
  test('1.29.6 on Kubernetes 1.31 with 1.31.0 at hand: the line, and the Kubernetes version', async () => {
    const report = await readStatus(NS, deps(cluster('v1.31.9+rke2r1', '1.29.6')));
    expect(report.kubernetes).toBe('v1.31.9+rke2r1');
    expect(report.heldBack).toBe(
      'Istio 1.31.0 needs Kubernetes >= 1.32; this cluster runs 1.31: installed 1.29.6; upgrade Kubernetes, then upgrade again',
    );
    expect(formatStatus(report)).toContain(`  held back: ${report.heldBack}`);
  });

  test('nothing held back where the newest at hand runs, or where the cluster already supports it', async () => {
    expect((await readStatus(NS, deps(cluster('v1.32.5', '1.31.0')))).heldBack).toBeNull();
    expect((await readStatus(NS, deps(cluster('v1.32.5', '1.29.6')))).heldBack).toBeNull();
  });
});
