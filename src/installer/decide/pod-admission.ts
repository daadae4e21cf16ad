// The pods an install would make, as pods the API server's admission (PodSecurity, quotas, webhooks) can judge with a
// dry run before anything changes, and what a refusal tells the user to do. Pure.
import type { AnyObject } from '../model/objects.js';
import { refused, type Refused } from '../model/refusal.js';

/** A Deployment or DaemonSet of the manifest: the pod template it would make pods from, and where. */
export interface PodWorkload {
  kind: string;
  name: string;
  namespace: string;
  template: { metadata?: AnyObject['metadata']; spec?: Record<string, unknown> };
}

/** What the API server said to one workload's dry-run pod. */
export interface AdmissionResult {
  workload: PodWorkload;
  refusal?: string;
}

export const POD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

/** The workloads of istioctl's manifest that make pods, each in its namespace (the installer's, where none is named). */
export function podWorkloads(objects: readonly AnyObject[], defaultNamespace: string): PodWorkload[] {
  return objects.flatMap((o) => {
    const spec = o.spec as { template?: PodWorkload['template'] } | undefined;
    if (!POD_KINDS.has(o.kind ?? '') || !spec?.template) return [];
    return [
      {
        kind: o.kind ?? '',
        name: o.metadata?.name ?? '',
        namespace: o.metadata?.namespace ?? defaultNamespace,
        template: spec.template,
      },
    ];
  });
}

/**
 * The pod a workload would make, for a dry run: its template as is, except the ServiceAccount (istioctl creates it in
 * the same install, so it may not exist yet, and the ServiceAccount admission would refuse the pod for that alone)
 * and injection, which it is never meant for.
 */
export function admissionPod(workload: PodWorkload): AnyObject & { spec: Record<string, unknown> } {
  const spec = Object.fromEntries(
    Object.entries(workload.template.spec ?? {}).filter(
      ([key]) => key !== 'serviceAccountName' && key !== 'serviceAccount',
    ),
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${workload.name}-admission-check`.slice(0, 63).replace(/-+$/, ''),
      namespace: workload.namespace,
      labels: { ...workload.template.metadata?.labels, 'sidecar.istio.io/inject': 'false' },
      annotations: workload.template.metadata?.annotations ?? {},
    },
    spec: { ...spec, automountServiceAccountToken: false },
  };
}

/** How a refusal is worded and what gets the user out, by what refused it. */
function waysOut(message: string, installerNamespace: string): string {
  if (/PodSecurity/.test(message))
    return `ways out: exempt the namespace from PodSecurity enforcement (Rancher: the rancher-restricted template's exemptions; ${installerNamespace} is exempt there), label it pod-security.kubernetes.io/enforce=baseline or privileged if its policy allows, or keep podSecurity.seccompProfile: RuntimeDefault and give the component's k8s.securityContext what the message names (docs/hardened-clusters.md)`;
  if (/quota/i.test(message))
    return "ways out: raise the namespace's ResourceQuota, or set the component's k8s.resources requests and limits within it";
  return 'the API server refused it at admission; the message names the admission that did (a policy webhook, a LimitRange)';
}

/**
 * The refusal that stops a run before it changes anything: every workload whose pod the API server refused, and every
 * namespace a workload names that does not exist (istioctl does not create a gateway's namespace); none: go.
 */
export function admissionRefusal(
  results: readonly AdmissionResult[],
  missingNamespaces: readonly { namespace: string; workloads: string[] }[],
  installerNamespace: string,
): Refused | undefined {
  const missing = missingNamespaces.map(
    (m) => `namespace ${m.namespace} does not exist (${m.workloads.join(', ')} would run there)`,
  );
  const refusedPods = results.filter((r) => r.refusal !== undefined);
  const lines = refusedPods.map(
    (r) =>
      `${r.workload.kind} ${r.workload.namespace}/${r.workload.name} would not be admitted: ${r.refusal ?? ''}`,
  );
  if (missing.length + lines.length === 0) return undefined;
  const hints = [
    ...(missing.length > 0
      ? [
          "create the namespace first (labelled as its PodSecurity policy needs), or set the gateway's namespace to one that exists",
        ]
      : []),
    ...[...new Set(refusedPods.map((r) => waysOut(r.refusal ?? '', installerNamespace)))],
  ];
  return refused([...missing, ...lines].join('; '), hints.join('; '));
}

/**
 * A pod shaped as sidecar injection without istio-cni makes it, minus the proxy: the `istio-init` init container needs
 * NET_ADMIN and NET_RAW as root, which `baseline` and `restricted` forbid. Labelled so that no injector touches it.
 */
export function initProbePod(): AnyObject & { spec: Record<string, unknown> } {
  const dropAll = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'istio-init-admission-check', labels: { 'sidecar.istio.io/inject': 'false' } },
    spec: {
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      initContainers: [
        {
          name: 'istio-init',
          image: 'istio-init-admission-check',
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
            runAsNonRoot: false,
            runAsUser: 0,
          },
        },
      ],
      containers: [{ name: 'app', image: 'app-admission-check', securityContext: dropAll }],
    },
  };
}

/** Where injection is on and PodSecurity would refuse `istio-init`: what `plan` and `status` warn. */
export interface InjectionRefusal {
  namespace: string;
  /** PodSecurity's words, or the namespace's enforce label where the installer may not dry-run pods there. */
  why: string;
}

/** The warning for a namespace whose injected pods would be refused because neither istio-cni nor ambient is on. */
export function injectionWarning(refusal: InjectionRefusal): string {
  return `namespace ${refusal.namespace} has sidecar injection on and PodSecurity refuses istio-init there (${refusal.why}): its new pods will be refused while neither istio-cni (cni.enabled) nor ambient is on; enable one, or exempt the namespace`;
}

/** The level a PodSecurity refusal names (`violates PodSecurity "restricted:latest": …` -> `restricted:latest`). */
export function enforcedLevel(message: string): string | undefined {
  return /violates PodSecurity "([^"]+)"/.exec(message)?.[1];
}
