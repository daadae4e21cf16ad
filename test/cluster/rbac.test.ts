// Smoke test of the rig's RBAC: a process-kubelet pod acts with its own ServiceAccount's bound token, so what its
// Role grants works and what it does not grant is answered 403 by the apiserver.
import { startCluster, type Cluster } from './rig.js';
import { podFinished } from './testkit.js';

const NS = 'rbac-smoke';

describe('RBAC for process-kubelet pods', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 1 });
    const k = cluster.kube;
    await k.post('/api/v1/namespaces', { metadata: { name: NS } });
    await k.post(`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'reader' } });
    await k.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      metadata: { name: 'read-configmaps' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
    });
    await k.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      metadata: { name: 'reader-reads-configmaps' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** A bare pod (no Job) running the pinned kubectl in-cluster, i.e. from the projected token and env alone. */
  async function runKubectl(name: string, args: string[]) {
    await cluster.kube.post(`/api/v1/namespaces/${NS}/pods`, {
      metadata: { name, labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: {
        serviceAccountName: 'reader',
        restartPolicy: 'Never',
        containers: [
          { name: 'kubectl', image: 'registry.invalid/kubectl:1', command: [cluster.tools.kubectl, ...args] },
        ],
      },
    });
    const status = await podFinished(cluster, NS, name);
    return { status, log: cluster.podLogs(NS, name) };
  }

  test('what the Role grants is allowed', async () => {
    const { status, log } = await runKubectl('allowed', ['get', 'configmaps', '-n', NS, '-o', 'name']);
    expect(log).toContain('configmap/kube-root-ca.crt');
    expect(status.phase).toBe('Succeeded');
  });

  test('what the Role does not grant gets 403 Forbidden from the apiserver', async () => {
    const { status, log } = await runKubectl('denied', ['get', 'secrets', '-n', 'kube-system', '-v=6']);
    expect(log).toMatch(/403 Forbidden/);
    expect(log).toContain(`User "system:serviceaccount:${NS}:reader" cannot list resource "secrets"`);
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
  });
});
