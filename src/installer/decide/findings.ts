// What istioctl analyze and x precheck found, sorted into what makes an install unsafe (refuse), what our own
// interrupted run left and the install repairs, and users' own configuration (warn, never block). Pure.

export interface Finding {
  level: 'Error' | 'Warning' | 'Info';
  /** `IST0101` */
  code: string;
  /** `VirtualService default/broken-vs`, when the line names one. */
  resource: string | undefined;
  /** The line as istioctl printed it. */
  line: string;
}

/**
 * Codes that say installing now could break the mesh or fail half-way, whoever's configuration it is: webhooks that
 * overlap or call nothing (IST0139), missing permissions (IST0141), a Kubernetes or Gateway API CRD version Istio
 * does not support (IST0142, IST0156). Every other analyze finding is about users' own resources (a
 * VirtualService host with no Service, IST0101; a DestinationRule subset selecting no pods, IST0173, ...), which
 * an install neither fixes nor worsens.
 */
export const INSTALL_UNSAFE = new Set(['IST0139', 'IST0141', 'IST0142', 'IST0156']);
const WEBHOOK_OVERLAP = 'IST0139';

const FINDING = /^(Error|Warning|Info) \[(IST\d+)\](?: \(([^)]*)\))?/;

/** One finding per line of istioctl's diagnostic output (`Error [IST0101] (Kind ns/name) message`). */
export function parseFindings(output: string): Finding[] {
  const out: Finding[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const match = FINDING.exec(line);
    if (!match) continue;
    out.push({
      level: match[1] as Finding['level'],
      code: match[2] ?? '',
      resource: match[3]?.trim(),
      line,
    });
  }
  return out;
}

/**
 * The webhook configurations a finding names: the resource in parentheses and each `config/webhook` in its text
 * (IST0139 reads "Webhook overlaps with others: [istio-revision-tag-default/namespace.sidecar-injector.istio.io]").
 */
export function webhooksNamed(finding: Finding): string[] {
  const names = new Set<string>();
  const resource = /^(?:Mutating|Validating)WebhookConfiguration\s+(\S+)$/.exec(finding.resource ?? '');
  if (resource?.[1]) names.add(resource[1]);
  const message = finding.line.slice(finding.line.indexOf(')') + 1);
  for (const match of message.matchAll(/([a-z0-9][a-z0-9.-]*)\/[a-z0-9][a-z0-9.-]*/g))
    if (match[1] && !match[1].includes('.')) names.add(match[1]);
  return [...names];
}

export interface SortedFindings {
  /** Refuse the install. */
  blocking: Finding[];
  /** Left by an interrupted run of ours; the install re-applies the webhooks and so repairs them. */
  ours: Finding[];
  /** Reported in the log, the record and `status`; the install goes on. */
  warnings: Finding[];
  /** About webhook configurations this run deleted (stale) before the checks: istioctl read them from a cache. */
  gone: Finding[];
}

/**
 * Sorts findings. `ownWebhooks` are the webhook configurations of this installation, `lastRunEndedBadly` says the
 * last run on record did not end cleanly (see endedCleanly): only then is an overlap among our own webhooks ours to repair. For
 * `x precheck` every finding blocks (it checks exactly what makes an install unsafe), except that overlap.
 * `deleted` are the webhook configurations this run deleted just before the checks: a finding that names one of them
 * is about an object that no longer exists. istioctl's informers list from the API server's watch cache
 * (resourceVersion 0), which may not have seen the delete yet: on the rig, under load, analyze reported IST0139 for
 * Rancher's `istio-sidecar-injector` right after it was deleted, and refused a hop that was safe.
 */
export function sortFindings(
  findings: readonly Finding[],
  source: 'analyze' | 'precheck',
  ownWebhooks: ReadonlySet<string>,
  lastRunEndedBadly: boolean,
  revisionOf: ReadonlyMap<string, string> = new Map(),
  deleted: ReadonlySet<string> = new Set(),
): SortedFindings {
  const sorted: SortedFindings = { blocking: [], ours: [], warnings: [], gone: [] };
  for (const finding of findings) {
    if (finding.level === 'Info') continue;
    const named = webhooksNamed(finding);
    // An overlap with a deleted webhook is gone with it, as is a deleted webhook's call to a missing Service.
    if (named.some((name) => deleted.has(name))) {
      sorted.gone.push(finding);
      continue;
    }
    const ownOverlap =
      finding.code === WEBHOOK_OVERLAP && named.length > 0 && named.every((name) => ownWebhooks.has(name));
    // istioctl re-applying an adopted default revision in place leaves its injector overlapping the `default` tag
    // that serves the same istiod (seen on the rig with istioctl 1.30.4): both call one istiod, whose injector skips
    // a pod it already injected, so the overlap is reported and does not stop the run. `revisionOf` is given only
    // for installs taken over.
    const oneRevision =
      ownOverlap && new Set(named.map((name) => revisionOf.get(name) ?? `?${name}`)).size === 1;
    if (ownOverlap && lastRunEndedBadly) sorted.ours.push(finding);
    else if (oneRevision) sorted.warnings.push(finding);
    else if (source === 'precheck' || INSTALL_UNSAFE.has(finding.code)) sorted.blocking.push(finding);
    else sorted.warnings.push(finding);
  }
  return sorted;
}
