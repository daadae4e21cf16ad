// The install request the CLI would build from plain values (in place, no tags, no force), for unit tests of the flow.
import type { InstallRequest } from '../../src/installer/actions/request.js';

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
