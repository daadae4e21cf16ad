// Uninstall of an ambient mesh with fakes standing in for istioctl and the API server: ztunnel and istio-cni go too
// (by owner when the revision uninstall left them), and the run says what stays on the nodes.
import type { InstallerDeps } from '../../../src/installer/deps.js';
import type { ProcessRunner } from '../../../src/installer/istioctl/runner.js';
import { NODE_LEFTOVERS, uninstall } from '../../../src/installer/actions/uninstall.js';
import { FakeKube, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';

function nodeAgent(name: string) {
  return {
    metadata: {
      name,
      namespace: 'istio-system',
      generation: 1,
      labels: { 'operator.istio.io/component': name === 'ztunnel' ? 'Ztunnel' : 'Cni' },
    },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { spec: { containers: [{ name, image: `registry.istio.io/release/${name}:1.31.0` }] } },
    },
    status: {
      observedGeneration: 1,
      desiredNumberScheduled: 1,
      numberReady: 1,
      updatedNumberScheduled: 1,
      currentNumberScheduled: 1,
      numberMisscheduled: 0,
    },
  };
}

test('ztunnel and istio-cni left by the revision uninstall are removed by owner; the leftovers on nodes are named', async () => {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: 'istio-system' } });
  kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
  kube.mutating.push(injectorWebhook());
  kube.daemonSets.push(nodeAgent('istio-cni-node'), nodeAgent('ztunnel'));
  const calls: string[][] = [];
  const warnings: string[] = [];
  const runner: ProcessRunner = {
    async run(_file, args) {
      calls.push([...args]);
      // A stand-in for istioctl's effect: the revision goes, the node agents only with the owner uninstall.
      if (args.includes('--revision')) {
        kube.deployments = [];
        kube.mutating = [];
      }
      if (args.includes('-f')) kube.daemonSets = [];
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  };
  let tick = 0;
  const deps: InstallerDeps = {
    kube,
    runner,
    log: { info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined },
    now: () => new Date(Date.UTC(2026, 10, 21) + tick++ * 1000),
    sleep: async () => undefined,
    env: {},
    istioctlFor: async () => '/fake/istioctl',
    writeTempFile: async (name) => `/tmp/fake/${name}`,
    holder: 'test',
    lockSeconds: 60,
    hostname: 'test-host',
    isProcessAlive: () => true,
  };
  const summary = await uninstall(
    { namespace: 'istio-system', purge: false, chartVersion: '0.1.0', timeoutSeconds: 60 },
    deps,
  );
  expect(calls).toEqual([
    ['uninstall', '-y', '--revision', 'default'],
    ['uninstall', '-y', '-f', '/tmp/fake/owner.yaml'],
  ]);
  expect(kube.daemonSets).toEqual([]);
  expect(summary).toMatch(
    /^uninstalled Istio revisions default and istio-cni-node, ztunnel \(CRDs and Istio resources kept\)/,
  );
  expect(warnings).toContain(NODE_LEFTOVERS);
});
