// The IstioOperator fields istioctl accepts (1.24+), type-checked the way istioctl's strict decoding would.
import * as z from 'zod';
import { dns1123Label, hub, HUB_PATTERN, profileName, tag } from './values-schema.js';
const map = z.record(z.string(), z.unknown());
const stringMap = z.record(z.string(), z.string());

const k8sOverlay = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  patches: z.array(z.strictObject({ path: z.string().min(1), value: z.unknown().optional() })).optional(),
});

// List items under k8s are Kubernetes types that istioctl decodes strictly: an unknown field there fails its install.
const toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});
const envVar = z.strictObject({
  name: z.string().min(1),
  value: z.string().optional(),
  valueFrom: map.optional(),
});
const volumeMount = z.strictObject({
  name: z.string().min(1),
  mountPath: z.string().min(1),
  readOnly: z.boolean().optional(),
  recursiveReadOnly: z.string().optional(),
  subPath: z.string().optional(),
  subPathExpr: z.string().optional(),
  mountPropagation: z.string().optional(),
});

/** istioctl reads an empty string in these fields as unset; we accept it and drop it from the output. */
const emptyOr = (pattern: RegExp, what: string) =>
  z
    .string()
    .regex(new RegExp(`^$|${pattern.source}`), `must be empty or ${what}`)
    .optional();
const emptyOrLabel = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(
    /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    'must be empty or a DNS-1123 label: lower-case letters, digits and "-", starting and ending alphanumeric',
  )
  .optional();

const k8s = z.strictObject({
  affinity: map.optional(),
  env: z.array(envVar).optional(),
  hpaSpec: map.optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  nodeSelector: stringMap.optional(),
  podDisruptionBudget: map.optional(),
  podAnnotations: stringMap.optional(),
  priorityClassName: z.string().optional(),
  readinessProbe: map.optional(),
  replicaCount: z.number().int().min(0).optional(),
  resources: map.optional(),
  service: map.optional(),
  strategy: map.optional(),
  tolerations: z.array(toleration).optional(),
  serviceAnnotations: stringMap.optional(),
  securityContext: map.optional(),
  volumes: z.array(map).optional(),
  volumeMounts: z.array(volumeMount).optional(),
  overlays: z.array(k8sOverlay).optional(),
});

const componentFields = {
  enabled: z.boolean().optional(),
  namespace: dns1123Label.optional(),
  hub: hub.optional(),
  tag: tag.optional(),
  label: stringMap.optional(),
  k8s: k8s.optional(),
};
const component = z.strictObject(componentFields);
const gateway = z.strictObject({ ...componentFields, name: dns1123Label });

const components = z.strictObject({
  base: component.optional(),
  pilot: component.optional(),
  cni: component.optional(),
  ztunnel: component.optional(),
  istiodRemote: component.optional(),
  ingressGateways: z.array(gateway).optional(),
  egressGateways: z.array(gateway).optional(),
});

export const istioOperatorSpecSchema = z.strictObject({
  profile: profileName.optional(),
  installPackagePath: z.string().optional(),
  hub: emptyOr(HUB_PATTERN, 'an image registry and path such as "docker.io/istio"'),
  tag: tag.optional(),
  namespace: emptyOrLabel,
  revision: emptyOrLabel,
  compatibilityVersion: emptyOr(/^\d+\.\d+$/, 'a minor version such as "1.28"'),
  meshConfig: map.optional(),
  components: components.optional(),
  values: map.optional(),
  unvalidatedValues: map.optional(),
});

export const istioOperatorSchema = z.strictObject({
  apiVersion: z.literal('install.istio.io/v1alpha1'),
  kind: z.literal('IstioOperator'),
  metadata: z.looseObject({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  spec: istioOperatorSpecSchema.optional(),
});

/** Top-level spec fields where an empty string means "unset" to istioctl. */
export const UNSET_WHEN_EMPTY = ['profile', 'hub', 'namespace', 'revision', 'compatibilityVersion'] as const;
