{{/* Named templates of the tracing subchart: rancher-istio's label set, image reference and restricted pod settings. */}}

{{- define "tracing.labels" -}}
{{ include "tracing.selectorLabels" . }}
app: jaeger
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: tracing
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rancher-istio
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tracing.selectorLabels" -}}
app.kubernetes.io/name: jaeger
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Jaeger image: <registry>/<repository>:<tag>, or <registry>/<repository>@<digest> when image.digest pins it. */}}
{{- define "tracing.image" -}}
{{- $registry := .Values.global.cattle.systemDefaultRegistry | default .Values.image.registry -}}
{{ trimSuffix "/" $registry }}/{{ .Values.image.repository }}
{{- if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{ end }}
{{- end -}}

{{/* Whether Jaeger is on: the parent's condition leaves a string "false" enabled (Helm reads only booleans there). */}}
{{- define "tracing.enabled" -}}
{{- if eq (toString .Values.enabled) "true" -}}true{{- end -}}
{{- end -}}
