// The install request the CLI would build from plain values (in place, no tags, no force), for unit tests of the flow.
import type { InstallRequest } from '../../src/installer/actions/request.js';
import type { ProcessRunner } from '../../src/installer/istioctl/runner.js';

export function installRequest(
  istioOperator: InstallRequest['istioOperator'],
  extra: Partial<InstallRequest> = {},
): InstallRequest {
  return {
    istioOperator,
    namespace: 'istio-system',
    strategy: 'InPlace',
    revisionTags: [],
    removeOldRevision: 'WhenUnused',
    rollbackOnFailure: false,
    force: false,
    readinessSeconds: 300,
    chartVersion: '0.1.0',
    dryRun: false,
    ...extra,
  };
}

/** The spec file an offline check renders, in the fakes' temp dir: each check's own, named by its spec's hash. */
export const OFFLINE_SPEC_FILE: unknown = expect.stringMatching(
  /^\/tmp\/fake\/istio-operator-[0-9a-f]{12}\.yaml$/,
);

/** The offline check's istioctl arguments for a spec that sets nothing of the base component (no CRDs rendered). */
export const OFFLINE_CHECK_ARGS: unknown[] = [
  'manifest',
  'generate',
  '-f',
  OFFLINE_SPEC_FILE,
  '--set',
  'components.base.enabled=false',
];

/**
 * A fake istioctl that treats a held install as istioctl does: nothing happens until it is answered, and nothing at
 * all when it is answered no (`Cancelled.`, exit 1).
 */
export function answering(runner: ProcessRunner): ProcessRunner {
  return {
    async run(file, args, options) {
      if (options?.answer && !(await options.answer))
        return { exitCode: 1, stdout: 'Cancelled.\n', stderr: '', timedOut: false };
      return runner.run(file, args, options);
    },
  };
}
