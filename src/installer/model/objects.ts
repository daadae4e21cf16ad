// The parts of Kubernetes objects the installer reads, and how a kind is named in the API. Data and one pure path helper.

/** Any kind by its API coordinates, for the few objects that have no method of their own (takeover, restarts). */
export interface ResourceRef {
  apiVersion: string;
  kind: string;
  /** The lower-case plural in the URL: `jobs`, `istiooperators`. */
  plural: string;
}

/** The parts of any object the installer reads. */
export interface AnyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: unknown;
  status?: unknown;
}

/** The URL path of a kind's collection, or of one object when `name` is given. */
export function resourcePath(ref: ResourceRef, namespace: string | undefined, name?: string): string {
  const prefix = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${prefix}${scope}/${ref.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}
