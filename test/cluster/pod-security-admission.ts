// The rig's PodSecurity admission as Rancher's `rancher-restricted` template configures it: `restricted` enforced,
// audited and warned by default in every namespace, except the namespaces Rancher exempts (its docs, "PSA restricted
// exemptions", v2.12), istio-system among them. Written as the AdmissionConfiguration kube-apiserver reads.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';

/** Rancher 2.12's exempted namespaces (its "Sample PodSecurityConfiguration"), facts rather than code. */
export const RANCHER_RESTRICTED_EXEMPT_NAMESPACES = [
  'calico-apiserver',
  'calico-system',
  'cattle-alerting',
  'cattle-csp-adapter-system',
  'cattle-elemental-system',
  'cattle-epinio-system',
  'cattle-externalip-system',
  'cattle-fleet-local-system',
  'cattle-fleet-system',
  'cattle-gatekeeper-system',
  'cattle-global-data',
  'cattle-global-nt',
  'cattle-impersonation-system',
  'cattle-istio',
  'cattle-istio-system',
  'cattle-logging',
  'cattle-logging-system',
  'cattle-monitoring-system',
  'cattle-neuvector-system',
  'cattle-prometheus',
  'cattle-provisioning-capi-system',
  'cattle-resources-system',
  'cattle-sriov-system',
  'cattle-system',
  'cattle-ui-plugin-system',
  'cattle-windows-gmsa-system',
  'cert-manager',
  'cis-operator-system',
  'fleet-default',
  'fleet-local',
  'ingress-nginx',
  'istio-system',
  'kube-node-lease',
  'kube-public',
  'kube-system',
  'longhorn-system',
  'rancher-alerting-drivers',
  'security-scan',
  'sr-operator-system',
  'tigera-operator',
];

/** Writes the AdmissionConfiguration into `dir` and returns the kube-apiserver flag that reads it. */
export function rancherRestrictedAdmission(dir: string): string {
  const file = join(dir, 'admission-rancher-restricted.yaml');
  const config = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [
      {
        name: 'PodSecurity',
        configuration: {
          apiVersion: 'pod-security.admission.config.k8s.io/v1',
          kind: 'PodSecurityConfiguration',
          defaults: {
            enforce: 'restricted',
            'enforce-version': 'latest',
            audit: 'restricted',
            'audit-version': 'latest',
            warn: 'restricted',
            'warn-version': 'latest',
          },
          exemptions: { usernames: [], runtimeClasses: [], namespaces: RANCHER_RESTRICTED_EXEMPT_NAMESPACES },
        },
      },
    ],
  };
  writeFileSync(file, dump(config));
  return `--admission-control-config-file=${file}`;
}
