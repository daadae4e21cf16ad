// Writes the record ConfigMap and a Kubernetes Event on it for each outcome, so `kubectl describe` shows the history.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { VERSION } from '../../version.js';
import type { InstallerDeps } from '../deps.js';
import {
  encodeRecord,
  nextRecord,
  RECORD_CONFIGMAP,
  type InstallRecord,
  type RecordEntry,
} from '../model/record.js';

export interface Outcome {
  action: string;
  outcome: RecordEntry['outcome'];
  specSha256: string;
  istioVersion: string;
  revision: string;
  chartVersion: string;
  message?: string;
  spec?: string;
  warnings?: readonly string[];
  output?: readonly string[];
  pathAhead?: readonly string[];
}

/** Appends the outcome to the record and emits an Event; returns the new record. */
export async function writeRecord(
  deps: Pick<InstallerDeps, 'kube' | 'now' | 'holder'>,
  namespace: string,
  previous: InstallRecord | undefined,
  outcome: Outcome,
): Promise<InstallRecord> {
  const entry: RecordEntry = {
    action: outcome.action,
    outcome: outcome.outcome,
    specSha256: outcome.specSha256,
    istioVersion: outcome.istioVersion,
    revision: outcome.revision,
    chartVersion: outcome.chartVersion,
    installerVersion: VERSION,
    time: deps.now().toISOString(),
    holder: deps.holder,
    ...(outcome.message ? { message: outcome.message } : {}),
    ...(outcome.warnings?.length ? { warnings: [...outcome.warnings] } : {}),
    ...(outcome.output?.length ? { output: [...outcome.output] } : {}),
    ...(outcome.pathAhead?.length ? { pathAhead: [...outcome.pathAhead] } : {}),
  };
  const record = nextRecord(previous, entry, outcome.spec);
  const encoded = encodeRecord(record);
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: RECORD_CONFIGMAP,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'istio-installer', 'app.kubernetes.io/component': 'state' },
    },
    data: encoded.data,
    binaryData: encoded.binaryData,
  };
  const written = await deps.kube.applyConfigMap(configMap);
  // An attempt is not news; its outcome is.
  if (outcome.outcome === 'in-progress') return record;
  const good = outcome.outcome === 'succeeded' || outcome.outcome === 'uninstalled';
  const now = deps.now();
  await deps.kube
    .createEvent(namespace, {
      metadata: { generateName: `${RECORD_CONFIGMAP}.`, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: RECORD_CONFIGMAP,
        namespace,
        uid: written.metadata?.uid,
      },
      type: good ? 'Normal' : 'Warning',
      reason: `${outcome.action}-${outcome.outcome}`.replace(/(^|-)(\w)/g, (_, _dash: string, c: string) =>
        c.toUpperCase(),
      ),
      message:
        outcome.message ??
        `${outcome.action} of Istio ${outcome.istioVersion} (revision ${outcome.revision}) ${outcome.outcome}`,
      source: { component: 'istio-installer' },
      reportingComponent: 'istio-installer',
      reportingInstance: deps.holder,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    })
    .catch(() => undefined);
  return record;
}
