// istioctl argv and failure handling, with a recording fake runner (no process is started).
import { IstioctlError, TimeoutError } from '../../../src/errors.js';
import { installArgs, tagSetArgs, uninstallArgs } from '../../../src/installer/istioctl/args.js';
import {
  causeFromOutput,
  istioctl,
  type ProcessRunner,
  type RunResult,
} from '../../../src/installer/istioctl/runner.js';

function recordingRunner(
  result: Partial<RunResult>,
): ProcessRunner & { calls: { file: string; args: readonly string[]; timeoutMs: number }[] } {
  const calls: { file: string; args: readonly string[]; timeoutMs: number }[] = [];
  return {
    calls,
    async run(file, args, options) {
      calls.push({ file, args, timeoutMs: options.timeoutMs });
      for (const line of (result.stderr ?? '').split('\n')) if (line) options.onLine?.('stderr', line);
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...result };
    },
  };
}

test('install always confirms and takes the merged spec as its only file', () => {
  expect(installArgs('/tmp/x/istio-operator.yaml', 300)).toEqual([
    'install',
    '-y',
    '-f',
    '/tmp/x/istio-operator.yaml',
    '--readiness-timeout',
    '300s',
  ]);
  expect(uninstallArgs('1-31-0', false)).toEqual(['uninstall', '-y', '--revision', '1-31-0']);
  expect(uninstallArgs('', true)).toEqual(['uninstall', '-y', '--purge']);
  expect(tagSetArgs('default', '1-31-0')).toEqual([
    'tag',
    'set',
    'default',
    '--revision',
    '1-31-0',
    '--overwrite',
    '-y',
  ]);
});

test('the cause of a failure is the Error: line', () => {
  expect(
    causeFromOutput(
      '✔ Istio core installed\n✘ Istiod encountered an error: failed to wait\nError: failed to install manifests: creating default tag would conflict\n',
    ),
  ).toBe('failed to install manifests: creating default tag would conflict');
  expect(
    causeFromOutput('- Processing resources for Istiod.\n✘ Istiod encountered an error: timed out\n'),
  ).toBe('✘ Istiod encountered an error: timed out');
  expect(causeFromOutput('')).toBe('no output');
});

test("the cause of a run cut off by a dead API server is istioctl's ✘ line, not the port-forward noise before it", () => {
  // The shape of istioctl 1.31.0's output when the API server was killed while it applied the gateways.
  const output = [
    '- Processing resources for Istio core.',
    '✔ Istio core installed ⛵️',
    '- Processing resources for Istiod.',
    'error forwarding port 15014 to pod istiod-5d9f7c6b8-x2kqp, uid : failed to execute portforward in network namespace "": unable to do port forwarding',
    '✔ Istiod installed 🧠',
    '- Processing resources for Ingress gateways.',
    '✘ Ingress gateways encountered an error: failed to update resource with server-side apply for obj Deployment/istio-system/istio-ingressgateway: Patch "https://127.0.0.1:40123/apis/apps/v1/namespaces/istio-system/deployments/istio-ingressgateway": unexpected EOF',
  ].join('\n');
  expect(causeFromOutput(output)).toMatch(/^✘ Ingress gateways encountered an error: .*unexpected EOF$/);
  expect(causeFromOutput('error forwarding port 15014 to pod x\nsomething else failed: an error\n')).toBe(
    'something else failed: an error',
  );
});

test('a failed run becomes an IstioctlError with argv, exit code and cause; output lines are logged with a prefix', async () => {
  const runner = recordingRunner({
    exitCode: 1,
    stderr: 'Error: unknown field "replicas" in KubernetesResourcesSpec\n',
  });
  const lines: string[] = [];
  const tool = istioctl('/opt/istioctl', runner, {}, (line) => lines.push(line));
  const failure = tool.run(['install', '-y'], 1000);
  await expect(failure).rejects.toThrow(IstioctlError);
  await expect(failure).rejects.toMatchObject({
    exitCode: 1,
    args: ['install', '-y'],
    message: 'unknown field "replicas" in KubernetesResourcesSpec',
  });
  expect(lines).toContain('istioctl: Error: unknown field "replicas" in KubernetesResourcesSpec');
  expect(runner.calls[0]).toEqual({ file: '/opt/istioctl', args: ['install', '-y'], timeoutMs: 1000 });
});

test('a run stopped by our timeout is a TimeoutError', async () => {
  const tool = istioctl(
    'istioctl',
    recordingRunner({
      exitCode: undefined,
      timedOut: true,
      stderr: 'Waiting for Deployment/istio-system/istiod\n',
    }),
    {},
    () => undefined,
  );
  await expect(tool.run(['install'], 2000)).rejects.toThrow(TimeoutError);
});
