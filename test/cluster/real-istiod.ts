// The rig's real istiod: which pods run as a real `pilot-discovery` (istiod pods, by the Istio version their image
// tag names, whatever the registry) and the image they stand for, so the process kubelet runs them like a kubelet.
import { dirname } from 'node:path';
import type { ImageLayout } from './image.js';
import { ISTIOD_POD_LABEL } from './kwok-config.js';
import { RIG_ISTIO_VERSIONS, type RigIstioVersion, type ToolPaths } from './tools.js';

interface PodLike {
  metadata: { labels?: Record<string, string> };
  spec: { containers: { name: string; image: string }[] };
}

export const isIstiodPod = (pod: PodLike): boolean =>
  pod.metadata.labels?.[ISTIOD_POD_LABEL.key] === ISTIOD_POD_LABEL.value;

/** The tag of an image reference (`registry:5000/istio/pilot:1.31.0-distroless@sha256:…` → `1.31.0-distroless`). */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0] ?? '';
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  const colon = lastPart.indexOf(':');
  return colon < 0 ? undefined : lastPart.slice(colon + 1);
}

/**
 * The pinned Istio version an istiod pod's discovery image is, old source builds included (`docker.io/istio/pilot:
 * 1.25.0`, Rancher's `rancher/mirrored-istio-pilot:1.25.0-distroless`): variants like `-distroless` are the same
 * build.
 */
export function istiodVersion(pod: PodLike): { version?: RigIstioVersion; image: string } {
  const container = pod.spec.containers.find((c) => c.name === 'discovery') ?? pod.spec.containers[0];
  const image = container?.image ?? '';
  const release = /^(\d+\.\d+\.\d+)(?:-[a-z]+)?$/.exec(imageTag(image) ?? '')?.[1];
  const version = RIG_ISTIO_VERSIONS.find((v) => v === release);
  return { image, ...(version ? { version } : {}) };
}

/** The pilot image as Istio's Dockerfile defines it: ENTRYPOINT pilot-discovery, no CMD, WORKDIR /. */
export function istiodImage(tools: ToolPaths, version: RigIstioVersion): ImageLayout {
  const binary = tools.pilotDiscovery[version];
  return {
    path: [dirname(binary)],
    env: {},
    entrypoint: [binary],
    cmd: [],
    workingDir: '/',
    hostPaths: [dirname(binary)],
    imageMounts: [],
  };
}
