{{/* Named templates of the Kiali subchart: rancher-istio's label set, image reference and restricted pod settings. */}}

{{- define "kiali.labels" -}}
{{ include "kiali.selectorLabels" . }}
app: kiali
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: console
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rancher-istio
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kiali.selectorLabels" -}}
app.kubernetes.io/name: kiali
app.kubernetes.io/instance: {{ include "kiali.instance" . }}
{{- end -}}

{{/*
The instance the selector names: `selectorInstance` when set, else the one a running `kiali` Deployment already
selects, else the release. Rancher's chart selected `app.kubernetes.io/instance: kiali`, and a Deployment's selector
cannot change in place, so a `helm upgrade` of Rancher's release onto this chart keeps it (else: "spec.selector: field
is immutable"). `helm template` (Argo CD) cannot look: there `selectorInstance` says it.
*/}}
{{- define "kiali.instance" -}}
{{- if .Values.selectorInstance -}}
{{ .Values.selectorInstance }}
{{- else -}}
{{- $existing := lookup "apps/v1" "Deployment" .Release.Namespace "kiali" -}}
{{- $selector := dig "spec" "selector" "matchLabels" (dict) $existing -}}
{{- if and (eq (len $selector) 2) (eq (toString (get $selector "app.kubernetes.io/name")) "kiali") (hasKey $selector "app.kubernetes.io/instance") -}}
{{ get $selector "app.kubernetes.io/instance" }}
{{- else -}}
{{ .Release.Name }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Kiali image: <registry>/<repository>:<tag>, or <registry>/<repository>@<digest> when image.digest pins it. */}}
{{- define "kiali.image" -}}
{{- $registry := .Values.global.cattle.systemDefaultRegistry | default .Values.image.registry -}}
{{ trimSuffix "/" $registry }}/{{ .Values.image.repository }}
{{- if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{ end }}
{{- end -}}

{{/*
Kiali's API token, mounted explicitly where Kubernetes would mount it: the pod and the ServiceAccount set
automountServiceAccountToken: false, so the token is where it is used and nowhere by default. The sources and the
expiry are those Kubernetes' own admission gives.
*/}}
{{- define "kiali.apiTokenVolume" -}}
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

{{- define "kiali.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kiali.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kiali.scheduling" -}}
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

{{/* Whether Kiali is on: the parent's condition leaves a string "false" enabled (Helm reads only booleans there). */}}
{{- define "kiali.enabled" -}}
{{- if eq (toString .Values.enabled) "true" -}}true{{- end -}}
{{- end -}}

{{/* kiali-server's web root rule: "/" stays, anything else loses a trailing "/", empty means /kiali. */}}
{{- define "kiali.webRoot" -}}
{{- $root := toString (.Values.server.web_root | default "/kiali") -}}
{{- if eq $root "/" -}}/{{- else -}}{{ trimSuffix "/" $root }}{{- end -}}
{{- end -}}
