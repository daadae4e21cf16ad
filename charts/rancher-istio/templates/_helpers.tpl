{{/* Named templates shared by the chart's objects: labels, image references, restricted security contexts, scheduling. */}}

{{/* helm.sh/chart value: chart name and version, "+" replaced because label values cannot carry it. */}}
{{- define "rancher-istio.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels of every object. The name is fixed (not nameOverride-able) because the installer Job's pods are found by
app.kubernetes.io/name=rancher-istio + component=installer. Call with (dict "ctx" $ "component" "installer").
*/}}
{{- define "rancher-istio.labels" -}}
{{ include "rancher-istio.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: rancher-istio
helm.sh/chart: {{ include "rancher-istio.chart" .ctx }}
{{- end -}}

{{- define "rancher-istio.selectorLabels" -}}
app.kubernetes.io/name: rancher-istio
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
An image reference with Rancher's system default registry in front: [<registry>/]<repository>:<tag>, or
[<registry>/]<repository>@<digest> when a digest is given, so that the digest alone decides what runs.
*/}}
{{- define "rancher-istio.image" -}}
{{- $registry := .ctx.Values.global.cattle.systemDefaultRegistry -}}
{{- if $registry -}}{{ trimSuffix "/" $registry }}/{{ end -}}{{ .repository }}{{ if .digest }}@{{ .digest }}{{ else }}:{{ .tag }}{{ end }}
{{- end -}}

{{/*
The installer image: installer.image, never Rancher's installer.repository/installer.tag, which Rancher's values set to
rancher/istio-installer, a shell script that cannot run `istio-installer run`.
*/}}
{{- define "rancher-istio.installerImage" -}}
{{- include "rancher-istio.image" (dict "ctx" . "repository" .Values.installer.image.repository "tag" (.Values.installer.image.tag | default .Chart.Version) "digest" .Values.installer.image.digest) -}}
{{- end -}}

{{/*
"true" for true and the string "true" (Rancher's keys take both; the schema allows no other string), else empty. A plain
`if` would take the string "false" as true, as Rancher's templates did.
*/}}
{{- define "rancher-istio.true" -}}
{{- if eq (toString .) "true" -}}true{{- end -}}
{{- end -}}

{{- define "rancher-istio.serviceAccountName" -}}
{{ .Release.Name }}-installer
{{- end -}}

{{- define "rancher-istio.mirrorName" -}}
{{ .Release.Name }}-mirror
{{- end -}}

{{/* The URL the installer fetches istioctl releases from: the user's mirror, else the chart's own when enabled. */}}
{{- define "rancher-istio.mirrorUrl" -}}
{{- if .Values.installer.releaseMirror.url -}}
{{ .Values.installer.releaseMirror.url }}
{{- else if include "rancher-istio.true" .Values.installer.releaseMirror.enabled -}}
http://{{ include "rancher-istio.mirrorName" . }}.{{ .Release.Namespace }}.svc:8080
{{- end -}}
{{- end -}}

{{/*
Pod securityContext of every pod: the restricted Pod Security Standard with a fixed non-root user, so the install and
the uninstall Job run as the same user. The user's installer.podSecurityContext adds fields; it cannot loosen these.
*/}}
{{- define "rancher-istio.podSecurityContext" -}}
{{- $restricted := dict "runAsNonRoot" true "runAsUser" 65532 "runAsGroup" 65532 "fsGroup" 65532 "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (merge $restricted (deepCopy (.Values.installer.podSecurityContext | default dict))) -}}
{{- end -}}

{{- define "rancher-istio.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Linux nodes only (Rancher taints Windows-mixed clusters' linux nodes with cattle.io/os=linux), plus the user's. */}}
{{- define "rancher-istio.scheduling" -}}
nodeSelector:
  {{- toYaml (merge (dict "kubernetes.io/os" "linux") (deepCopy (.Values.nodeSelector | default dict))) | nindent 2 }}
tolerations:
  - key: cattle.io/os
    operator: Equal
    value: linux
    effect: NoSchedule
  {{- with .Values.tolerations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
The API token of a pod that calls the API server, mounted explicitly where Kubernetes would mount it (the pod and its
ServiceAccount set automountServiceAccountToken: false), so that no pod of the chart gets a token by default.
The same three sources, with the expiry, Kubernetes' own admission gives them.
*/}}
{{- define "rancher-istio.apiTokenVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end -}}

{{- define "rancher-istio.apiTokenMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end -}}

{{- define "rancher-istio.imagePullSecrets" -}}
{{- with .Values.installer.imagePullSecrets -}}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
The istioctl profile the installer renders: `profile` (empty is `default`), or its ambient variant with
`ambient.enabled` (src/overlay/values-to-iop.ts valuesProfile).
*/}}
{{- define "rancher-istio.profile" -}}
{{- $profile := .Values.profile | default "default" -}}
{{- if .Values.ambient.enabled -}}
{{- $profile = get (dict "default" "ambient" "ambient" "ambient" "openshift" "openshift-ambient" "openshift-ambient" "openshift-ambient") $profile | default $profile -}}
{{- end -}}
{{- $profile -}}
{{- end -}}

{{/*
"true" when a component is installed: its `enabled` value when set, else what the profile decides, as
src/overlay/profiles.ts says (checked against `istioctl profile dump` by test/istioctl/profiles.test.ts).
Call with (dict "ctx" . "component" "cni").
*/}}
{{- define "rancher-istio.componentEnabled" -}}
{{- $values := index .ctx.Values .component | default dict -}}
{{- if hasKey $values "enabled" -}}
{{- /* Rancher's string booleans read as what they say ("false" is off). */ -}}
{{- include "rancher-istio.true" $values.enabled | default "false" -}}
{{- else -}}
{{- $byProfile := dict "ingressGateways" (list "default" "demo" "stable" "preview" "openshift") "egressGateways" (list "demo") "cni" (list "ambient" "openshift-ambient" "openshift") -}}
{{- has (include "rancher-istio.profile" .ctx) (get $byProfile .component) -}}
{{- end -}}
{{- end -}}

{{/*
The gateways the installer may create, as a JSON list of {name, namespace}: the default ones, `extra` gateways and
gateways that overlays (maps or YAML strings) add. RBAC names their roles and namespaces from this list.
*/}}
{{- define "rancher-istio.gateways" -}}
{{- $ns := .Release.Namespace -}}
{{- $gateways := list -}}
{{- if eq (include "rancher-istio.componentEnabled" (dict "ctx" . "component" "ingressGateways")) "true" }}{{ $gateways = append $gateways (dict "name" "istio-ingressgateway" "namespace" $ns) }}{{ end -}}
{{- if eq (include "rancher-istio.componentEnabled" (dict "ctx" . "component" "egressGateways")) "true" }}{{ $gateways = append $gateways (dict "name" "istio-egressgateway" "namespace" $ns) }}{{ end -}}
{{- range concat .Values.ingressGateways.extra .Values.egressGateways.extra -}}
{{- $gateways = append $gateways (dict "name" .name "namespace" (.namespace | default $ns)) -}}
{{- end -}}
{{- $overlays := list -}}
{{- with .Values.overlayFile }}{{ $overlays = append $overlays (fromYaml .) }}{{ end -}}
{{- range .Values.overlays -}}
{{- if kindIs "string" . }}{{ $overlays = append $overlays (fromYaml .) }}{{ else }}{{ $overlays = append $overlays . }}{{ end -}}
{{- end -}}
{{- range $overlay := $overlays -}}
{{- $components := ((($overlay | default dict).spec | default dict).components | default dict) -}}
{{- range concat ($components.ingressGateways | default list) ($components.egressGateways | default list) -}}
{{- if .name -}}
{{- $gateways = append $gateways (dict "name" .name "namespace" (.namespace | default $ns)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $gateways -}}
{{- end -}}

{{/*
Suffixes of the revisions the installer may install: the default revision's empty suffix; the configured revision, or
for revision-based upgrades the one derived from the version ("1.31.0" -> "-1-31-0"), for every version the Job may
choose when `tag` is empty (the bundled ones: which it takes depends on the cluster's Kubernetes); and the transit
revisions of a stepped upgrade from an older install, named by minor only ("-1-29", "-1-28", ...: every minor below
the highest version, since the path goes through whichever istioctl is at hand and its patch is chosen at run time).
Transit revisions stop at 1.20 (Rancher's oldest chart line in use is Istio 1.19): a path from Istio 1.18 or older
may need a hop the Job may not make.
*/}}
{{- define "rancher-istio.revisionSuffixes" -}}
{{- $suffixes := list "" -}}
{{- $tag := regexFind "^[0-9]+\\.[0-9]+\\.[0-9]+" (toString .Values.tag) -}}
{{- $versions := ternary (list $tag) (splitList " " (include "rancher-istio.bundledIstio" .)) (ne $tag "") -}}
{{- if .Values.revision -}}
{{- $suffixes = append $suffixes (printf "-%s" .Values.revision) -}}
{{- else -}}
{{- /* Also for InPlace: an install taken over (Rancher's) goes up by a canary revision named after the version. */ -}}
{{- range $versions }}{{ $suffixes = append $suffixes (printf "-%s" (replace "." "-" .)) }}{{ end -}}
{{- end -}}
{{- $highest := last $versions -}}
{{- $major := index (splitList "." $highest) 0 -}}
{{- $minor := index (splitList "." $highest) 1 | atoi -}}
{{- range $transit := untilStep 20 $minor 1 -}}
{{- $suffixes = append $suffixes (printf "-%s-%d" $major $transit) -}}
{{- end -}}
{{- toJson $suffixes -}}
{{- end -}}

{{/*
The Istio version the Job installs when `tag` is empty, as the installer chooses it from the bundled versions: the
newest one the cluster's Kubernetes supports; and the newest bundled one held back by it. JSON: {"target": "1.29.6",
"heldBack": "1.31.0", "needs": 32, "kube": 31} (target empty when none fits).
*/}}
{{- define "rancher-istio.autoTarget" -}}
{{- $kube := regexFind "^[0-9]+" (toString .Capabilities.KubeVersion.Minor) | atoi -}}
{{- $support := include "rancher-istio.istioKubeSupport" . | fromJson -}}
{{- $target := "" -}}
{{- $heldBack := "" -}}
{{- $needs := 0 -}}
{{- range $version := reverse (splitList " " (include "rancher-istio.bundledIstio" .)) -}}
{{- $range := index $support (regexFind "^[0-9]+\\.[0-9]+" $version) -}}
{{- $min := index $range 0 | int -}}
{{- $max := index $range 1 | int -}}
{{- if and (eq $target "") (ge $kube $min) (le $kube $max) -}}
{{- $target = $version -}}
{{- else if and (eq $target "") (eq $heldBack "") (lt $kube $min) -}}
{{- $heldBack = $version -}}
{{- $needs = $min -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "target" $target "heldBack" $heldBack "needs" $needs "kube" $kube) -}}
{{- end -}}
