// Which credentials the lean client takes itself, and which it leaves to client-node.
import { loadRestCredentials } from '../../../src/installer/cluster/kubeconfig.js';

const files = (map: Record<string, string>) => (file: string) => {
  const content = map[file];
  if (content === undefined) throw Object.assign(new Error(`ENOENT ${file}`), { code: 'ENOENT' });
  return Buffer.from(content);
};

const kubeconfig = (user: string, cluster = 'certificate-authority-data: Q0E=') => `apiVersion: v1
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443/", ${cluster}}}]
users: [{name: u, user: {${user}}}]
`;

test('client certificates inline', () => {
  const credentials = loadRestCredentials(
    '/k',
    {},
    files({ '/k': kubeconfig('client-certificate-data: Q0VSVA==, client-key-data: S0VZ') }),
  );
  expect(credentials).toMatchObject({ server: 'https://127.0.0.1:6443', insecure: false });
  expect(credentials?.ca?.toString()).toBe('CA');
  expect(credentials?.cert?.toString()).toBe('CERT');
  expect(credentials?.key?.toString()).toBe('KEY');
});

test('files relative to the kubeconfig, and a token file', () => {
  const credentials = loadRestCredentials(
    '/home/u/.kube/config',
    {},
    files({
      '/home/u/.kube/config': kubeconfig('tokenFile: token', 'certificate-authority: ca.pem'),
      '/home/u/.kube/ca.pem': 'PEM',
      '/home/u/.kube/token': 'secret\n',
    }),
  );
  expect(credentials?.ca?.toString()).toBe('PEM');
  expect(credentials?.token).toBe('secret');
});

test.each([
  ['an exec plugin', kubeconfig('exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}')],
  ['an auth provider', kubeconfig('auth-provider: {name: oidc}')],
  ['a proxy', kubeconfig('token: t', 'proxy-url: "http://proxy:3128"')],
])('%s is left to client-node', (_what, text) => {
  expect(loadRestCredentials('/k', {}, files({ '/k': text }))).toBeUndefined();
});

test('$KUBECONFIG, then ~/.kube/config, then the pod ServiceAccount', () => {
  const sa = {
    '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt': 'SACA',
    '/var/run/secrets/kubernetes.io/serviceaccount/token': 'satoken',
  };
  expect(
    loadRestCredentials(undefined, { KUBECONFIG: '/k', HOME: '/h' }, files({ '/k': kubeconfig('token: a') }))
      ?.token,
  ).toBe('a');
  expect(
    loadRestCredentials(undefined, { HOME: '/h' }, files({ '/h/.kube/config': kubeconfig('token: b') }))
      ?.token,
  ).toBe('b');
  const inCluster = loadRestCredentials(
    undefined,
    { HOME: '/h', KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
    files(sa),
  );
  expect(inCluster).toMatchObject({ server: 'https://10.0.0.1:443', token: 'satoken' });
  expect(loadRestCredentials(undefined, { HOME: '/h' }, files({}))).toBeUndefined();
});
