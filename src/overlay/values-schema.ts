// The chart's values, as the installer reads them: Rancher rancher-istio 104.x-107.x keys with their meaning, plus ours.
// This zod schema is the single source of truth: values.schema.json, `istio-installer schema` and docs/values.md come from it.
import * as z from 'zod';

/** What `render` shows for an empty `tag` (no cluster to choose by): the newest bundled version. */
export const DEFAULT_ISTIO_TAG = '1.31.0';
/**
 * Istio versions whose istioctl the installer image bundles, oldest first (the Dockerfile's ISTIO_VERSIONS): every hop
 * of a stepped upgrade from Rancher 2.9-2.12's Istio 1.23-1.25 (1.25, 1.27, 1.29), and the two newest.
 */
export const BUNDLED_ISTIO_VERSIONS = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', DEFAULT_ISTIO_TAG] as const;
/** Where Istio publishes release images since 1.30 (before: docker.io/istio). */
export const DEFAULT_ISTIO_HUB = 'registry.istio.io/release';

export const PROFILES = [
  'ambient',
  'default',
  'demo',
  'empty',
  'minimal',
  'openshift',
  'openshift-ambient',
  'preview',
  'remote',
  'stable',
] as const;

export type Profile = (typeof PROFILES)[number];

/** What a user should do instead of naming a profile istioctl does not ship (appended to the "must be one of" text). */
export const UNKNOWN_PROFILE_HINT =
  'istioctl has no other profiles: pick one of these (ambient for the ambient data plane), or start from "default" and put your changes in an overlay';

/** `profile`: a built-in profile name; empty means unset, as istioctl reads it (the default profile). */
export const profileName = z.enum([...PROFILES, ''], { message: UNKNOWN_PROFILE_HINT });

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const dns1123Label = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(
    DNS1123_LABEL,
    'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending alphanumeric',
  );

/** Registry host (with optional port) and path, as in `registry.example.com:5000/istio`. */
export const HUB_PATTERN = /^[a-zA-Z0-9]+([._-][a-zA-Z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** An OCI tag: word characters, dots and dashes, at most 128, not starting with a dot or dash. */
export const TAG_PATTERN = /^\w[\w.-]{0,127}$/;
export const hub = z
  .string()
  .regex(HUB_PATTERN, 'must be an image registry and path such as "docker.io/istio"');
export const tag = z.string().regex(TAG_PATTERN, 'must be a valid image tag such as "1.31.0"');
/** A content digest as registries give them; only sha256 is accepted, the one every registry computes. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** The digest of an image the chart itself renders (chart only: the installer never reads these keys). */
const imageDigest = (what: string) =>
  z
    .string()
    .regex(
      new RegExp(`^$|${DIGEST_PATTERN.source}`),
      'must be empty or an image digest: "sha256:" and 64 lower-case hex digits',
    )
    .default('')
    .describe(
      `Digest of the ${what} image, such as \`sha256:\` and 64 hex digits (chart only). Set, it pins the image: the reference becomes \`<repository>@<digest>\` and the tag is not used.`,
    );

/** An object section whose keys all have defaults, so an absent section means "all defaults". */
function section<T extends z.core.$ZodLooseShape>(shape: T, description: string) {
  // Every key of a section has a default, so `{}` is a valid input; TypeScript cannot see that for a generic shape.
  return z
    .strictObject(shape)
    .prefault({} as z.input<z.ZodObject<T, z.core.$strict>>)
    .describe(description);
}
/** Like `section`, but the chart (or a subchart) may carry further keys that the installer passes through untouched. */
function openSection<T extends z.core.$ZodLooseShape>(shape: T, description: string) {
  return z
    .looseObject(shape)
    .prefault({} as z.input<z.ZodObject<T, z.core.$loose>>)
    .describe(description);
}
const freeMap = (description: string) => z.record(z.string(), z.unknown()).default({}).describe(description);
const stringMap = (description: string) => z.record(z.string(), z.string()).default({}).describe(description);
/**
 * Schemas of Rancher's keys that also take the strings "true"/"false" (or digits), since Rancher's Go templates did
 * (`--set-string`, hand-edited files). Collected here so that `rancherStringWarnings` can name every such key it saw.
 */
const rancherStringScalars = new WeakSet<z.core.$ZodType>();
function rancherTagged<T extends z.ZodType>(schema: T): T {
  rancherStringScalars.add(schema);
  return schema;
}
/** A boolean of Rancher's values: `true`, `false`, or the strings "true"/"false" read as those. */
export const rancherBoolean = () =>
  rancherTagged(z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]));
/** A non-negative integer of Rancher's values, or a string of digits read as one. */
const rancherCount = () =>
  rancherTagged(
    z.union([
      z.number().int().min(0),
      z
        .string()
        .regex(/^[0-9]+$/, 'a string of digits')
        .transform((text) => Number(text)),
    ]),
  );
/** Whether a schema node is one of Rancher's keys that also take strings. */
export function isRancherStringScalar(node: z.core.$ZodType): boolean {
  return rancherStringScalars.has(node);
}
/**
 * A setting the chosen istioctl profile also decides: no default of ours, so that unset means "as the profile says".
 * `byDefaultProfile` is what istioctl's `default` profile decides (and Rancher's chart defaulted to).
 */
const profileDecided = (byDefaultProfile: boolean, description: string) =>
  rancherBoolean()
    .optional()
    .describe(`${description} Unset: the profile decides (\`default\`: ${byDefaultProfile ? 'on' : 'off'}).`);
const enabled = (byDefaultProfile: boolean, what: string) =>
  profileDecided(byDefaultProfile, `Installs ${what}.`);

/** Rancher's CNI exclusions, applied when the values switch CNI on themselves (as Rancher's chart did). */
export const RANCHER_CNI_EXCLUDE_NAMESPACES = ['istio-system', 'kube-system'];
/** Rancher's CNI log level, applied likewise. */
export const RANCHER_CNI_LOG_LEVEL = 'info';
const repository = (value: string, what: string) =>
  z
    .string()
    .default(value)
    .describe(
      `${what} image repository, without the registry (global.cattle.systemDefaultRegistry is prefixed). At its default with an empty tag, the image follows \`hub\` and \`tag\`; otherwise the full reference \`<registry>/<repository>:<tag>\` is pinned.`,
    );
const imageTag = (what: string) =>
  z.string().default('').describe(`${what} image tag; empty means the Istio version in \`tag\`.`);
const serviceType = (value: string) =>
  z
    .enum(['ClusterIP', 'NodePort', 'LoadBalancer'])
    .default(value as 'NodePort')
    .describe('Kubernetes Service type of the gateway.');
const hpaSpec = () =>
  freeMap(
    "HorizontalPodAutoscaler spec for the deployment (IstioOperator `k8s.hpaSpec`); empty leaves Istio's default.",
  );
const podDisruptionBudget = () =>
  freeMap(
    "PodDisruptionBudget spec (IstioOperator `k8s.podDisruptionBudget`); empty leaves Istio's default.",
  );
const resources = (what: string) =>
  freeMap(`Container resources (requests/limits) of ${what}; empty leaves Istio's default.`);

/**
 * The installer Jobs' defaults: the peak measured by `npm run bench:job-resources` (a fresh install and a stepped upgrade
 * through three hops, the installer and its istioctl together: under 300 MiB, under 0.7 cores over any second) with
 * headroom; docs/development.md has the figures and how they were taken.
 */
const INSTALLER_RESOURCES = {
  requests: { cpu: '250m', memory: '384Mi' },
  limits: { cpu: '1', memory: '1Gi' },
};
/** The mirror's: `npm run bench:mirror` measured 77-80 MB of RSS serving 64 clients at once. */
const MIRROR_RESOURCES = {
  requests: { cpu: '10m', memory: '96Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};

const servicePort = z.strictObject({
  name: z.string().min(1).describe('Port name; also the key overlays merge ports on.'),
  port: z.number().int().min(1).max(65535),
  targetPort: z.union([z.number().int().min(1).max(65535), z.string()]).optional(),
  nodePort: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

const extraGateway = z
  .strictObject({
    name: dns1123Label.describe(
      'Gateway name: the Deployment and Service name, and the key overlays merge gateways on.',
    ),
    enabled: z.boolean().default(true).describe('Installs this gateway.'),
    namespace: dns1123Label.optional().describe('Namespace of the gateway; default: the Istio namespace.'),
    type: serviceType('LoadBalancer'),
    ports: z
      .array(servicePort)
      .optional()
      .describe('Service ports; default: status-port 15021, http2 80->8080, https 443->8443.'),
    label: stringMap(
      'Pod labels selecting this gateway; default: `app` and `istio` set to the gateway name.',
    ),
    serviceAnnotations: stringMap('Annotations on the gateway Service (cloud load balancer settings).'),
    resources: resources('the gateway'),
    hpaSpec: hpaSpec(),
    podDisruptionBudget: podDisruptionBudget(),
  })
  .describe('An additional gateway next to the default one.');

const gatewaySection = (isIngress: boolean) =>
  section(
    {
      enabled: enabled(isIngress, isIngress ? 'the `istio-ingressgateway`' : 'the `istio-egressgateway`'),
      type: serviceType('NodePort'),
      hpaSpec: hpaSpec(),
      podDisruptionBudget: podDisruptionBudget(),
      resources: resources('the gateway'),
      serviceAnnotations: stringMap('Annotations on the gateway Service.'),
      extra: z
        .array(extraGateway)
        .default([])
        .describe('Further gateways of this kind, each with its own name, Service type and ports.'),
    },
    isIngress
      ? 'The default ingress gateway `istio-ingressgateway` and any extra ones.'
      : 'The default egress gateway `istio-egressgateway` and any extra ones.',
  );

const imageRef = (repo: string, what: string, description: string) =>
  openSection({ repository: repository(repo, what), tag: imageTag(what) }, description);

export const valuesSchema = z
  .strictObject({
    // --- Rancher rancher-istio 104.x-107.x keys, same meaning ---
    overlayFile: z
      .string()
      .default('')
      .describe(
        'A whole IstioOperator, as a YAML string, merged on top of what these values produce (before `overlays`).',
      ),
    tag: z
      .union([tag, z.literal('')])
      .default('')
      .describe(
        `Istio version to install (IstioOperator \`spec.tag\`). Empty: the newest version whose istioctl is at hand (bundled: ${BUNDLED_ISTIO_VERSIONS.join(', ')}; on PATH; or in the release mirror) that the cluster's Kubernetes supports; \`render\`, which reads no cluster, shows ${DEFAULT_ISTIO_TAG}. A version the cluster's Kubernetes does not support is refused unless \`upgrade.allowUnsupportedKubernetes\`.`,
      ),
    forceInstall: rancherBoolean()
      .default(false)
      .describe('Skips the version guards (skipped minors, downgrades, Istio < 1.6) and the prechecks.'),
    installer: section(
      {
        image: section(
          {
            repository: z
              .string()
              .min(1)
              .default('rancher-istio/istio-installer')
              .describe(
                'Installer image repository, without the registry (global.cattle.systemDefaultRegistry is prefixed).',
              ),
            tag: z
              .string()
              .default('')
              .describe(
                `Installer image tag; empty means the chart's version, which is the installer release it ships with. The image bundles istioctl for the Istio versions it was built with (the Dockerfile's ISTIO_VERSIONS, listed in its \`io.rancher-istio.istio-versions\` label: ${BUNDLED_ISTIO_VERSIONS.join(', ')} by default, the hops from Rancher's Istio 1.23-1.25 and the newest two); other versions come from the release mirror or PATH.`,
              ),
            digest: imageDigest('installer (and release mirror)'),
          },
          "The image of the installer Jobs and the release mirror. Not `installer.repository`/`installer.tag`: those are Rancher's keys, and Rancher's values set them to its own installer, a shell script this chart's Jobs cannot run.",
        ),
        repository: z
          .string()
          .optional()
          .describe(
            "Rancher's installer image repository (`rancher/istio-installer`): accepted so Rancher's values load unchanged, ignored with a warning. The Jobs run `installer.image`.",
          ),
        tag: z
          .string()
          .optional()
          .describe(
            "Rancher's installer image tag (`1.23.2-rancher1`): ignored with a warning like `installer.repository`; it tells which Rancher line the values come from.",
          ),
        imagePullPolicy: z
          .enum(['Always', 'IfNotPresent', 'Never'])
          .default('IfNotPresent')
          .describe('Pull policy of the installer image.'),
        imagePullSecrets: z
          .array(z.strictObject({ name: z.string().min(1) }))
          .default([])
          .describe('Secrets for pulling the installer image from a private registry.'),
        resources: z
          .record(z.string(), z.unknown())
          .default(INSTALLER_RESOURCES)
          .describe(
            'Container resources (requests/limits) of the installer Jobs (chart only). The defaults hold the peak of a measured install and stepped upgrade (the installer and its istioctl) with headroom; a ResourceQuota on CPU or memory refuses pods without them. `null` sets none (a `{}` keeps the defaults: Helm merges maps).',
          ),
        podSecurityContext: freeMap(
          'Extra pod securityContext fields for the installer Jobs (the restricted defaults stay).',
        ),
        proxy: section(
          {
            httpProxy: z.string().default('').describe('HTTP_PROXY for the installer Jobs.'),
            httpsProxy: z.string().default('').describe('HTTPS_PROXY for the installer Jobs.'),
            noProxy: z.string().default('').describe('NO_PROXY for the installer Jobs.'),
          },
          'Proxy environment of the installer Jobs.',
        ),
        backoffLimit: z
          .number()
          .int()
          .min(0)
          .default(1)
          .describe(
            'Retries of a failed installer Job (Job `backoffLimit`); the installer is idempotent, so one retry rides out a transient failure.',
          ),
        ttlSecondsAfterFinished: z
          .number()
          .int()
          .min(0)
          .default(86400)
          .describe('Seconds a finished installer Job (and its log) is kept before Kubernetes deletes it.'),
        timeouts: section(
          {
            readinessSeconds: z
              .number()
              .int()
              .min(1)
              .default(300)
              .describe('istioctl `--readiness-timeout` per component, in seconds.'),
            jobSeconds: z
              .number()
              .int()
              .min(60)
              .default(1800)
              .describe('activeDeadlineSeconds of the installer Jobs.'),
            pathSeconds: z
              .number()
              .int()
              .min(0)
              .default(210)
              .describe(
                "A stepped upgrade starts no further hop once the longest hop so far would end past this many seconds of the run: the mesh stays on the hop just made (healthy, proxies within skew), the run ends successfully, and the next `helm upgrade` (or `istio-installer install`) goes on from there. Keeps the Job within Helm's `--timeout` (5 minutes by default; Rancher's UI uses 10): raise it with that. 0: no limit.",
              ),
          },
          'Time limits.',
        ),
        releaseMirror: section(
          {
            enabled: rancherBoolean()
              .default(false)
              .describe(
                'Serves Istio release artifacts inside the cluster for air-gapped upgrades and rollbacks.',
              ),
            url: z
              .string()
              .default('')
              .describe("Mirror to fetch istioctl from; default: the chart's mirror Service when enabled."),
            resources: z
              .record(z.string(), z.unknown())
              .default(MIRROR_RESOURCES)
              .describe(
                'Container resources (requests/limits) of the mirror Deployment (chart only; the installer ignores it). `null` sets none (a `{}` keeps the defaults: Helm merges maps).',
              ),
            service: section(
              {
                type: z
                  .enum(['ClusterIP', 'NodePort', 'LoadBalancer'])
                  .default('ClusterIP')
                  .describe(
                    'Service type of the mirror; `NodePort` or `LoadBalancer` expose it outside the cluster.',
                  ),
                annotations: stringMap('Annotations on the mirror Service.'),
              },
              'The mirror Service `<release>-mirror`, port 8080 (chart only).',
            ),
            extraReleases: section(
              {
                existingClaim: z
                  .string()
                  .regex(
                    /^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
                    'must be empty or the name of a PersistentVolumeClaim in the release namespace',
                  )
                  .default('')
                  .describe(
                    "PersistentVolumeClaim (in the release namespace) holding a mirror filled by `istio-installer mirror add`, mounted read-only and served beside the image's own releases.",
                  ),
                volume: freeMap(
                  'Any other pod volume source holding such a mirror, e.g. `{nfs: {server: nfs.example.com, path: /istio}}`; only when `existingClaim` is empty (setting both is refused).',
                ),
                subPath: z
                  .string()
                  .regex(
                    /^$|^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/,
                    'must be empty or a relative path whose segments start with a letter, digit or "_" (no "..")',
                  )
                  .default('')
                  .describe(
                    'Directory inside the volume that is the mirror (holds `releases/index.json`); empty: its root.',
                  ),
              },
              "Istio releases not baked into the image (the hops of a stepped upgrade, as `istio-installer prepare-site` writes them), served by the chart's mirror from a volume; the image's copy wins a file both hold. The mirror is not ready while that volume holds no valid index (chart only).",
            ),
          },
          'Release mirror for air-gapped clusters.',
        ),
        debug: section(
          {
            secondsSleep: rancherCount()
              .default(0)
              .describe('Seconds the installer sleeps before acting, to let a person exec into the pod.'),
          },
          'Debugging aids.',
        ),
      },
      'The installer Jobs that run `istio-installer run`.',
    ),
    podSecurity: section(
      {
        seccompProfile: z
          .enum(['RuntimeDefault', ''])
          .default('RuntimeDefault')
          .describe(
            "seccomp profile type that istiod, every gateway (also those an overlay adds in other namespaces) and, from Istio 1.29 (older istioctl refuses the key), the injected proxies get, as PodSecurity `restricted` requires; a component's own `k8s.securityContext.seccompProfile` wins. Empty: Istio's own default (none set), which Rancher's chart rendered. The node agents (istio-cni, ztunnel) need privileges `restricted` forbids and are left alone. See docs/hardened-clusters.md.",
          ),
      },
      "What Istio's pods get so that PodSecurity `restricted` (Rancher's `rancher-restricted`) admits them.",
    ),
    dns: section(
      {
        enabled: rancherBoolean()
          .default(false)
          .describe(
            'Sets `ISTIO_META_DNS_CAPTURE: "true"` in the mesh\'s default proxy metadata (DNS proxying).',
          ),
      },
      'DNS capture by the sidecars.',
    ),
    base: section(
      { enabled: enabled(true, 'the base component (CRDs, cluster roles)') },
      'Istio base component.',
    ),
    cni: section(
      {
        enabled: enabled(false, 'the Istio CNI node agent'),
        repository: repository('istio/install-cni', 'CNI'),
        tag: imageTag('CNI'),
        logLevel: z
          .string()
          .optional()
          .describe(
            "CNI plugin log level (`values.cni.logLevel`). Unset: `info` when `cni.enabled` is true, else Istio's default.",
          ),
        excludeNamespaces: z
          .array(z.string())
          .optional()
          .describe(
            "Namespaces the CNI plugin ignores. Unset: `[istio-system, kube-system]` when `cni.enabled` is true (Rancher's), else Istio's default.",
          ),
        platform: z
          .enum(['', 'rke2', 'k3s'])
          .default('')
          .describe(
            'Kubernetes distribution: `rke2` or `k3s` set their CNI bin/conf directories and the privileged install-cni these need.',
          ),
        resources: resources('the CNI agent'),
      },
      'Istio CNI (replaces the privileged istio-init container).',
    ),
    egressGateways: gatewaySection(false),
    ingressGateways: gatewaySection(true),
    istiodRemote: section(
      { enabled: enabled(false, 'the istiod-remote component (remote clusters)') },
      'Remote control plane component.',
    ),
    pilot: section(
      {
        enabled: enabled(true, 'istiod'),
        repository: repository('istio/pilot', 'istiod'),
        tag: imageTag('istiod'),
        hpaSpec: hpaSpec(),
        podDisruptionBudget: podDisruptionBudget(),
        resources: resources('istiod'),
        replicaCount: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('Fixed istiod replica count; unset leaves the autoscaler in charge.'),
      },
      'The control plane, istiod.',
    ),
    telemetry: section(
      {
        enabled: profileDecided(true, 'Istio telemetry (`values.telemetry.enabled`).'),
        v2: section(
          { enabled: profileDecided(true, 'Telemetry v2 (`values.telemetry.v2.enabled`).') },
          'Telemetry v2.',
        ),
      },
      'Mesh telemetry.',
    ),
    global: openSection(
      {
        cattle: openSection(
          {
            systemDefaultRegistry: z
              .string()
              .default('')
              .describe("Private registry prefixed to every image (Rancher's system default registry)."),
            psp: openSection(
              {
                enabled: rancherBoolean()
                  .default(false)
                  .describe('Ignored: PodSecurityPolicy no longer exists.'),
              },
              'Legacy.',
            ),
          },
          'Settings Rancher passes to every chart.',
        ),
        proxy: imageRef(
          'istio/proxyv2',
          'Sidecar proxy',
          'The sidecar proxy image (`values.global.proxy.image`).',
        ),
        proxy_init: imageRef(
          'istio/proxyv2',
          'Proxy init',
          'The init container image (`values.global.proxy_init.image`).',
        ),
        defaultPodDisruptionBudget: openSection(
          {
            enabled: profileDecided(
              true,
              'PodDisruptionBudgets for Istio deployments (`values.global.defaultPodDisruptionBudget`).',
            ),
          },
          'Default PodDisruptionBudgets.',
        ),
        logAsJson: rancherBoolean()
          .optional()
          .describe(
            "JSON logs for Istio's components (`values.global.logAsJson`), a key of Rancher's 107.x values; unset leaves Istio's default.",
          ),
        logging: openSection(
          {
            level: z
              .string()
              .optional()
              .describe(
                "Istio components' log levels, such as `default:info` (`values.global.logging.level`), a key of Rancher's 107.x values; unset leaves Istio's default.",
              ),
          },
          'Logging of the Istio components.',
        ),
      },
      'Global settings shared with the subcharts; keys not listed here pass through.',
    ),
    kiali: openSection(
      {
        enabled: rancherBoolean().default(true).describe('Installs the Kiali subchart.'),
        image: openSection({ digest: imageDigest('Kiali') }, 'The Kiali image.'),
      },
      'Kiali subchart values (passed through).',
    ),
    tracing: openSection(
      {
        enabled: rancherBoolean()
          .default(false)
          .describe("Installs the Jaeger subchart and points the mesh's zipkin tracer at it."),
        contextPath: z.string().default('/jaeger').describe('Web root of the Jaeger UI.'),
        zipkinAddress: z
          .string()
          .default('zipkin.istio-system.svc:9411')
          .describe('Zipkin address the proxies report to.'),
        image: openSection({ digest: imageDigest('Jaeger') }, 'The Jaeger image.'),
      },
      'Jaeger tracing subchart values (passed through).',
    ),
    nodeSelector: stringMap(
      "Node selector added to istiod, CNI, gateways and the chart's own pods, next to `kubernetes.io/os: linux`.",
    ),
    tolerations: z
      .array(z.record(z.string(), z.unknown()))
      .default([])
      .describe(
        "Tolerations added to istiod, CNI, gateways and the chart's own pods, next to `cattle.io/os=linux:NoSchedule`.",
      ),

    systemDefaultRegistry: z
      .string()
      .refine(
        (value) => value === '' || HUB_PATTERN.test(value),
        'must be empty or an image registry such as "registry.example.com:5000"',
      )
      .default('')
      .describe(
        "Rancher's top-level registry key: when `hub` is empty, it becomes `spec.hub` unchanged, as Rancher's template made it. Images follow `global.cattle.systemDefaultRegistry`.",
      ),

    // --- added by rancher-istio ---
    revision: z
      .string()
      .max(63, 'must be at most 63 characters')
      .regex(
        /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
        'must be empty or a DNS-1123 label: lower-case letters, digits and "-", starting and ending alphanumeric',
      )
      .default('')
      .describe('Istio revision to install (IstioOperator `spec.revision`); empty for the default revision.'),
    profile: profileName
      .default('default')
      .describe(
        'istioctl profile the IstioOperator starts from. It decides every setting these values leave unset: a component is switched on or off here only when you set its `enabled`. Empty means `default`.',
      ),
    ambient: section(
      {
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Installs the ambient data plane (ztunnel and istio-cni, waypoints for L7) by starting from the ambient variant of `profile`: `default` becomes `ambient`, `openshift` becomes `openshift-ambient`. Other profiles have no ambient variant.',
          ),
        ztunnel: section(
          {
            repository: repository('istio/ztunnel', 'ztunnel'),
            tag: imageTag('ztunnel'),
            resources: resources('ztunnel'),
          },
          'The ztunnel node proxy (a DaemonSet on every linux node).',
        ),
      },
      'Ambient mode: sidecar-less data plane. Enrol a namespace with the label `istio.io/dataplane-mode=ambient`.',
    ),
    hub: z
      .string()
      .refine(
        (value) => value === '' || HUB_PATTERN.test(value),
        'must be empty or an image registry and path such as "docker.io/istio"',
      )
      .default('')
      .describe(
        'Registry and path of the Istio images; default `<systemDefaultRegistry>/istio` when a registry is set, else `registry.istio.io/release`.',
      ),
    meshConfig: freeMap('MeshConfig merged into `spec.meshConfig` (over what `dns` and `tracing` set).'),
    values: freeMap('Merged into IstioOperator `spec.values` (over what the other keys set).'),
    overlays: z
      .array(z.union([z.record(z.string(), z.unknown()), z.string()]))
      .default([])
      .describe('IstioOperator overlays (documents or YAML strings) merged in order after `overlayFile`.'),
    upgrade: section(
      {
        strategy: z
          .enum(['InPlace', 'RevisionBased'])
          .default('InPlace')
          .describe(
            '`InPlace` upgrades one minor at a time; `RevisionBased` installs a canary revision (up to two minors) and moves tags.',
          ),
        revisionTags: z
          .array(dns1123Label)
          .default([])
          .describe('Revision tags moved to the new revision, besides `default`.'),
        rollbackOnFailure: z
          .boolean()
          .default(false)
          .describe('Re-applies the last good spec with its istioctl when an in-place upgrade fails.'),
        removeOldRevision: z
          .enum(['WhenUnused', 'Never', 'Always'])
          .default('WhenUnused')
          .describe('What happens to the previous revision after a revision-based upgrade.'),
        updateWorkloads: z
          .boolean()
          .default(false)
          .describe(
            "Between the hops of a stepped upgrade, restart workloads whose proxies fall beyond Istio's supported skew (one minor) instead of stopping with exit 3.",
          ),
        allowUnsupportedKubernetes: z
          .boolean()
          .default(false)
          .describe(
            "Installs an explicit `tag` (and each hop to it) even where Istio's support matrix does not list the cluster's Kubernetes version (refused with exit 3 otherwise). At your own risk: Istio is not tested there.",
          ),
      },
      'Upgrade behaviour.',
    ),
    monitoring: section(
      {
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'ServiceMonitor for istiod and PodMonitor for the Envoy proxies, rendered only where the `monitoring.coreos.com/v1` API exists (chart only).',
          ),
        labels: stringMap(
          'Extra labels on the ServiceMonitor and PodMonitor, for a Prometheus that selects monitors by label.',
        ),
      },
      'Prometheus Operator monitors (rancher-monitoring).',
    ),
    networkPolicy: section(
      {
        enabled: z
          .boolean()
          .default(false)
          .describe(
            "One NetworkPolicy per pod of the chart (the installer Jobs, the release mirror, Kiali, Jaeger) that admits only the traffic it needs and denies the rest, both ways (chart only). Off by default: the Jobs' policy must let them reach the API server, whose address and port only the cluster knows (`apiServer`).",
          ),
        apiServer: section(
          {
            cidrs: z
              .array(z.string().regex(/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/, 'must be a CIDR such as "10.0.0.1/32"'))
              .default([])
              .describe(
                "Addresses of the Kubernetes API server, as CIDRs, that the installer Jobs and Kiali may reach; empty: any address on `ports`. Policies see the API server's own address and port (after the `kubernetes` Service's translation). Leave it empty on Cilium, which does not match the API server by address.",
              ),
            ports: z
              .array(z.number().int().min(1).max(65535))
              .min(1, 'must name at least one port')
              .default([443, 6443])
              .describe(
                "The API server's ports: 6443 on RKE2, K3s and kubeadm clusters, 443 on many managed ones.",
              ),
          },
          'Where the API server is, for the egress rules of the pods that call it.',
        ),
        installer: section(
          {
            extraEgress: z
              .array(z.record(z.string(), z.unknown()))
              .default([])
              .describe(
                "NetworkPolicy egress rules added to the installer Jobs' policy: an HTTP proxy (`installer.proxy`) or a release mirror outside the release namespace (`installer.releaseMirror.url`).",
              ),
          },
          "The installer Jobs: egress to the API server, DNS and the chart's release mirror; no ingress.",
        ),
        kiali: section(
          {
            extraEgress: z
              .array(z.record(z.string(), z.unknown()))
              .default([])
              .describe(
                "NetworkPolicy egress rules added to Kiali's policy: a Prometheus, Grafana or Jaeger that is not addressed as `<service>.<namespace>.svc` in Kiali's `external_services` URLs.",
              ),
          },
          "Kiali: ingress on 20001 (UI and API) and 9090 (metrics); egress to the API server, DNS, istiod's 15014, Jaeger and the namespaces of its `external_services` URLs.",
        ),
      },
      "NetworkPolicies for the chart's own pods (chart only; Istio's components are not covered).",
    ),
    uninstall: section(
      {
        purge: z
          .boolean()
          .default(false)
          .describe("Also deletes Istio's CRDs, and with them every Istio resource users made."),
      },
      'Uninstall behaviour (the pre-delete hook).',
    ),
  })
  .describe('rancher-istio chart values');

export type Values = z.output<typeof valuesSchema>;
export type ValuesInput = z.input<typeof valuesSchema>;
