{{- /*
Refuses, while Helm renders and so before anything changes, a release whose installer Job a ResourceQuota of the
release namespace would refuse: a Job pod the quota cannot fit never starts, and Helm would only wait for it until
its --timeout. Helm sees the namespace's quotas through `lookup` (a `helm template` rendering cannot, and checks
nothing). Quotas whose scopes the Job's pod might not match (Terminating, BestEffort, PriorityClass selectors) are
left to the API server.
*/ -}}

{{- /* A Kubernetes quantity ("250m", "384Mi", "1", "1.5G") in base units, as a float64's text. */ -}}
{{- define "rancher-istio.quantity" -}}
{{- $q := toString . | trim -}}
{{- $suffix := regexFind "(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)$" $q -}}
{{- $scale := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- mulf (float64 (trimSuffix $suffix $q)) (get $scale $suffix) -}}
{{- end -}}

{{- /* What the installer Job's pod asks a quota for: requests default to limits, as the API server defaults them. */ -}}
{{- define "rancher-istio.jobQuotaNeeds" -}}
{{- $r := .Values.installer.resources | default dict -}}
{{- $requests := $r.requests | default dict -}}
{{- $limits := $r.limits | default dict -}}
{{- $needs := dict "pods" "1" -}}
{{- range $resource := list "cpu" "memory" -}}
{{- $request := get $requests $resource | default (get $limits $resource) -}}
{{- if $request -}}
{{- $_ := set $needs (printf "requests.%s" $resource) (toString $request) -}}
{{- $_ := set $needs $resource (toString $request) -}}
{{- end -}}
{{- with get $limits $resource -}}
{{- $_ := set $needs (printf "limits.%s" $resource) (toString .) -}}
{{- end -}}
{{- end -}}
{{- toJson $needs -}}
{{- end -}}

{{- define "rancher-istio.quotaCheck" -}}
{{- $ := . -}}
{{- $needs := include "rancher-istio.jobQuotaNeeds" $ | fromJson -}}
{{- $quotas := (lookup "v1" "ResourceQuota" $.Release.Namespace "").items | default list -}}
{{- $limitRanges := (lookup "v1" "LimitRange" $.Release.Namespace "").items | default list -}}
{{- range $quota := $quotas -}}
{{- $scopes := $quota.spec.scopes | default list -}}
{{- $plain := and (not $quota.spec.scopeSelector) (eq 0 (len (without $scopes "NotTerminating" "NotBestEffort"))) -}}
{{- if $plain -}}
{{- $hard := $quota.spec.hard | default dict -}}
{{- $used := ($quota.status | default dict).used | default dict -}}
{{- $where := printf "ResourceQuota %s/%s" $.Release.Namespace $quota.metadata.name -}}
{{- range $key := keys $hard | sortAlpha -}}
{{- $limit := get $hard $key -}}
{{- $need := get $needs $key -}}
{{- if hasKey $needs $key -}}
{{- $left := subf (include "rancher-istio.quantity" $limit) (include "rancher-istio.quantity" (get $used $key | default "0")) -}}
{{- if gt (float64 (include "rancher-istio.quantity" $need)) $left -}}
{{- fail (printf "installer.resources: %s has %s of %s left (hard %s, used %s) and the installer Job needs %s: raise the quota, or lower installer.resources" $where (include "rancher-istio.quotaLeft" (list $limit (get $used $key | default "0"))) $key $limit (get $used $key | default "0") $need) -}}
{{- end -}}
{{- else if and (has $key (list "cpu" "memory" "requests.cpu" "requests.memory" "limits.cpu" "limits.memory")) (eq 0 (len $limitRanges)) -}}
{{- $field := ternary $key (printf "requests.%s" (trimPrefix "requests." $key)) (hasPrefix "limits." $key) -}}
{{- fail (printf "installer.resources: %s limits %s, so its pods must set it, and the installer Job sets none: set installer.resources.%s (the chart's defaults do)" $where $key $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* hard - used of a quota entry, in the unit the quota's hard value is written in. */ -}}
{{- define "rancher-istio.quotaLeft" -}}
{{- $hard := index . 0 | toString -}}
{{- $left := subf (include "rancher-istio.quantity" $hard) (include "rancher-istio.quantity" (index . 1)) -}}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|m)$" $hard -}}
{{- printf "%v%s" (divf $left (include "rancher-istio.quantity" (printf "1%s" $unit))) $unit -}}
{{- end -}}
