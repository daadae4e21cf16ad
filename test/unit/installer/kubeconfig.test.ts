// A malformed kubeconfig is the user's input: one line naming the file and the key, exit 2, never a stack trace.
import { describeError, exitCodeOf, ExitCode, InputError } from '../../../src/errors.js';
import {
  defaultKubeconfigFile,
  loadRestCredentials,
  readKubeconfigContexts,
} from '../../../src/installer/cluster/kubeconfig.js';

const files = (map: Record<string, string>) => (file: string) => {
  const content = map[file];
  if (content === undefined) throw Object.assign(new Error(`ENOENT ${file}`), { code: 'ENOENT' });
  return Buffer.from(content);
};

function refusal(text: string, extra: Record<string, string> = {}): InputError {
  try {
    loadRestCredentials('/home/u/kubeconfig', {}, files({ '/home/u/kubeconfig': text, ...extra }));
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('the kubeconfig was accepted');
}

test.each([
  [
    'a list where a list of contexts belongs',
    'current-context: c\ncontexts: {name: c}\n',
    '/home/u/kubeconfig  contexts: ',
  ],
  [
    'a cluster entry without its cluster',
    'current-context: c\nclusters: [{name: k}]\n',
    '/home/u/kubeconfig  clusters[0].cluster: ',
  ],
  ['a user that is a string', 'users: [{name: u, user: "token"}]\n', '/home/u/kubeconfig  users[0].user: '],
  ['YAML that does not parse', 'clusters: [\n  - {name: k\n', '/home/u/kubeconfig:'],
  ['a document that is not a mapping', '- just\n- a list\n', '/home/u/kubeconfig  not a kubeconfig'],
])('%s: exit 2, one line naming the file and the key', (_what, text, start) => {
  const error = refusal(text);
  expect(exitCodeOf(error)).toBe(ExitCode.input);
  const lines = describeError(error);
  expect(lines).toHaveLength(1);
  expect(lines[0]?.startsWith(start)).toBe(true);
  expect(lines[0]).not.toMatch(/\n|\s{4}at /);
});

test('a file the kubeconfig names that cannot be read: exit 2 naming the key and the file', () => {
  const text = `current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.pem}}]
users: [{name: u, user: {token: t}}]
`;
  const lines = describeError(refusal(text));
  expect(lines).toEqual([
    '/home/u/kubeconfig  clusters[0].cluster.certificate-authority: cannot read /home/u/ca.pem (ENOENT)',
  ]);
});

describe('contexts other than the current one (status --context, --all-contexts)', () => {
  const text = `current-context: east
contexts:
- {name: east, context: {cluster: e, user: u}}
- {name: west, context: {cluster: w, user: u}}
clusters:
- {name: e, cluster: {server: "https://127.0.0.1:6443"}}
- {name: w, cluster: {server: "https://127.0.0.1:7443/"}}
users: [{name: u, user: {token: t}}]
`;
  const read = files({ '/home/u/kubeconfig': text });

  test('a named context gives its own cluster', () => {
    expect(loadRestCredentials('/home/u/kubeconfig', {}, read, 'west')?.server).toBe(
      'https://127.0.0.1:7443',
    );
    expect(loadRestCredentials('/home/u/kubeconfig', {}, read)?.server).toBe('https://127.0.0.1:6443');
  });

  test('a named context that is not there is exit 2 naming it, never the current one instead', () => {
    expect(() => loadRestCredentials('/home/u/kubeconfig', {}, read, 'north')).toThrow(
      '/home/u/kubeconfig  contexts: no context named "north"',
    );
  });

  test('the contexts in the file order, its current-context, and an unreadable file as exit 2', () => {
    expect(readKubeconfigContexts('/home/u/kubeconfig', read)).toEqual({
      file: '/home/u/kubeconfig',
      current: 'east',
      contexts: ['east', 'west'],
    });
    expect(() => readKubeconfigContexts('/home/u/missing', read)).toThrow(
      '/home/u/missing  cannot read the kubeconfig (ENOENT)',
    );
  });

  test('the default kubeconfig is the first file of $KUBECONFIG, else ~/.kube/config', () => {
    expect(defaultKubeconfigFile({ KUBECONFIG: ':/a/one:/a/two', HOME: '/h' })).toBe('/a/one');
    expect(defaultKubeconfigFile({ HOME: '/h' })).toBe('/h/.kube/config');
  });
});

test('a context asked for where no kubeconfig exists is exit 2, never the pod credentials instead', () => {
  const read = files({
    '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt': 'ca',
    '/var/run/secrets/kubernetes.io/serviceaccount/token': 't',
  });
  const env = { HOME: '/nohome', KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  expect(loadRestCredentials(undefined, env, read)?.server).toBe('https://10.0.0.1:443');
  expect(() => loadRestCredentials(undefined, env, read, 'east')).toThrow(
    '--context: no kubeconfig to find context "east" in (tried /nohome/.kube/config)',
  );
});

test('a kubeconfig the user named that cannot be read is exit 2 naming it; only the default one may be missing', () => {
  const read = files({
    '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt': 'ca',
    '/var/run/secrets/kubernetes.io/serviceaccount/token': 't',
  });
  const env = { HOME: '/nohome', KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const failure = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return `${exitCodeOf(error)} ${describeError(error)}`;
    }
    return 'accepted';
  };
  expect(failure(() => loadRestCredentials('/nonexistent', env, read))).toBe(
    `${ExitCode.input} /nonexistent  cannot read the kubeconfig (ENOENT)`,
  );
  expect(failure(() => loadRestCredentials(undefined, { ...env, KUBECONFIG: '/gone:/other' }, read))).toBe(
    `${ExitCode.input} /gone  cannot read the kubeconfig (ENOENT)`,
  );
  // No kubeconfig named and no ~/.kube/config: the pod's own ServiceAccount, as before.
  expect(loadRestCredentials(undefined, env, read)?.server).toBe('https://10.0.0.1:443');
});
