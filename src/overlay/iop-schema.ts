// The IstioOperator fields istioctl accepts (1.24+), type-checked the way istioctl's strict decoding would.
import { z } from 'zod';
import { dns1123Label, hub, PROFILES, tag } from './values-schema.js';
const map = z.record(z.string(), z.unknown());
const stringMap = z.record(z.string(), z.string());

const k8sOverlay = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  patches: z.array(z.strictObject({ path: z.string().min(1), value: z.unknown().optional() })).optional(),
});

const k8s = z.strictObject({
  affinity: map.optional(),
  env: z.array(map).optional(),
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
  tolerations: z.array(map).optional(),
  serviceAnnotations: stringMap.optional(),
  securityContext: map.optional(),
  volumes: z.array(map).optional(),
  volumeMounts: z.array(map).optional(),
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
  profile: z.enum(PROFILES).optional(),
  installPackagePath: z.string().optional(),
  hub: hub.optional(),
  tag: tag.optional(),
  namespace: dns1123Label.optional(),
  revision: dns1123Label.optional(),
  compatibilityVersion: z
    .string()
    .regex(/^\d+\.\d+$/, 'must be a minor version such as "1.28"')
    .optional(),
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
