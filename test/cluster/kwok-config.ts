// The kwok Stages the rig runs: fake nodes that stay Ready, and pods made Running/Ready (Job pods Succeeded) except
// the ones the process kubelet runs for real.
import { stringify } from 'yaml';
import { KUBE_VERSION } from './tools.js';

/** Label kwok puts no hands on: nodes carrying it are the fake ones kwok keeps alive. */
export const KWOK_NODE_LABEL = { key: 'type', value: 'kwok' } as const;

/** Pods with these labels are run as local processes instead of being faked (see process-kubelet.ts). */
export const INSTALLER_POD_LABELS = {
  'app.kubernetes.io/name': 'rancher-istio',
  'app.kubernetes.io/component': 'installer',
} as const;
export const PROCESS_KUBELET_LABEL = 'rancher-istio.test/process-kubelet';
/** The chart's release mirror (templates/release-mirror.yaml): served for real, so Job pods can download from it. */
export const MIRROR_POD_LABELS = {
  'app.kubernetes.io/name': 'rancher-istio',
  'app.kubernetes.io/component': 'mirror',
} as const;

const hasLabels = (labels: Record<string, string>, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => labels[k] === v);

/** The chart's release mirror pod, which the process kubelet serves like istiod (own pod IP, readiness probe). */
export const isMirrorPod = (labels: Record<string, string> | undefined): boolean =>
  !!labels && hasLabels(labels, MIRROR_POD_LABELS);

/** The label every istiod pod of Istio's manifests carries: the rig runs those as real istiod (real-istiod.ts). */
export const ISTIOD_POD_LABEL = { key: 'app', value: 'istiod' } as const;

/**
 * Whether the process kubelet runs this pod rather than kwok: installer pods, pods labelled for it, and istiod
 * pods unless the rig was started without its real istiod (`realIstiod: false`, to measure what it costs).
 */
export function isProcessKubeletPod(labels: Record<string, string> | undefined, realIstiod = true): boolean {
  if (!labels) return false;
  return (
    hasLabels(labels, INSTALLER_POD_LABELS) ||
    isMirrorPod(labels) ||
    labels[PROCESS_KUBELET_LABEL] === 'true' ||
    (realIstiod && labels[ISTIOD_POD_LABEL.key] === ISTIOD_POD_LABEL.value)
  );
}

/** The same test as `isProcessKubeletPod`, as a kwok (gojq) expression yielding a boolean. */
function processKubeletJq(realIstiod: boolean): string {
  const istiod = realIstiod ? ` or .["${ISTIOD_POD_LABEL.key}"] == "${ISTIOD_POD_LABEL.value}"` : '';
  return (
    '.metadata.labels | ((.["app.kubernetes.io/name"] == "rancher-istio" and ' +
    '(.["app.kubernetes.io/component"] == "installer" or .["app.kubernetes.io/component"] == "mirror")) or ' +
    `.["${PROCESS_KUBELET_LABEL}"] == "true"${istiod})`
  );
}

const notDeleting = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' };
const readyNotTrue = {
  key: '.status.conditions.[] | select( .type == "Ready" ) | .status',
  operator: 'NotIn',
  values: ['True'],
};

/** A node's status as a kubelet of `kubeVersion` reports it (`kubectl get nodes` shows that version). */
const nodeReady = (kubeVersion: string) => `{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
addresses:
- type: InternalIP
  address: {{ NodeIP | Quote }}
- type: Hostname
  address: {{ .metadata.name | Quote }}
allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
capacity: {cpu: "32", memory: 128Gi, pods: "110"}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: ${kubeVersion}
  containerRuntimeVersion: kwok
  osImage: kwok
  kernelVersion: kwok
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ NodePort }}
phase: Running
`;

const nodeHeartbeat = `{{ $now := Now }}
conditions:
{{ range .status.conditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ .lastTransitionTime | Quote }}
{{ end }}
`;

const podRunning = `{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
conditions:
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
{{ range .spec.readinessGates }}
- {type: {{ .conditionType | Quote }}, status: "True", lastTransitionTime: {{ $now | Quote }}}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state: {running: {startedAt: {{ $now | Quote }}}}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state: {terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs: [{ip: {{ . | Quote }}}]
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
podIPs: [{ip: {{ . | Quote }}}]
{{ end }}
`;

const podSucceeded = `{{ $now := Now }}
phase: Succeeded
conditions:
- {type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state: {terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}}
{{ end }}
`;

function stage(
  name: string,
  kind: 'Node' | 'Pod',
  matchExpressions: object[],
  next: object,
  delayMs?: number,
) {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind },
      selector: { matchExpressions },
      ...(delayMs ? { delay: { durationMilliseconds: delayMs } } : {}),
      next,
    },
  };
}

/**
 * The multi-document kwok configuration file (`kwok -c`); kwok itself ships no default stages. Nodes report
 * `kubeVersion` as their kubelet's, the version of the rig's control plane.
 */
export function kwokConfigYaml(realIstiod = true, kubeVersion: string = KUBE_VERSION): string {
  const notProcessKubeletPod = { key: processKubeletJq(realIstiod), operator: 'NotIn', values: ['true'] };
  const stages = [
    stage('rig-node-ready', 'Node', [readyNotTrue], { statusTemplate: nodeReady(kubeVersion) }),
    // Leases (--node-lease-duration-seconds) keep nodes alive; this refreshes the conditions now and then too.
    stage(
      'rig-node-heartbeat',
      'Node',
      [
        {
          key: '.status.conditions.[] | select( .type == "Ready" ) | .status',
          operator: 'In',
          values: ['True'],
        },
      ],
      { statusTemplate: nodeHeartbeat },
      30_000,
    ),
    stage(
      'rig-pod-running',
      'Pod',
      [
        notDeleting,
        { key: '.status.phase', operator: 'In', values: ['Pending'] },
        readyNotTrue,
        notProcessKubeletPod,
      ],
      { statusTemplate: podRunning },
    ),
    stage(
      'rig-job-pod-succeeded',
      'Pod',
      [
        notDeleting,
        { key: '.status.phase', operator: 'In', values: ['Running'] },
        { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] },
        notProcessKubeletPod,
      ],
      { statusTemplate: podSucceeded },
    ),
    // Deleting pods (process-kubelet ones included, whose process the rig stops) go away at once: no kubelet
    // would otherwise ever confirm the graceful deletion.
    stage('rig-pod-delete', 'Pod', [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }], {
      delete: true,
    }),
  ];
  return stages.map((s) => stringify(s)).join('---\n');
}

/** API of kwok's `Logs` objects: which file kwok's kubelet server returns as a container's log. */
export const KWOK_LOGS_API = { group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'logs' } as const;

/**
 * The CRD kwok needs for `--enable-crds=Logs` (kwok does not install it). The schema is left open: only kwok
 * reads these objects, and only the rig writes them.
 */
export function kwokLogsCrd(): object {
  const { group, version, plural } = KWOK_LOGS_API;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind: 'Logs', listKind: 'LogsList', plural, singular: plural },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}
