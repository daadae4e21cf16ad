{{/* The installer Job, shared by the install (post-install/post-upgrade) and uninstall (pre-delete) hooks. */}}
{{- define "rancher-istio.installerJob" -}}
{{- $ := .ctx -}}
{{- $values := $.Values.installer -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $.Release.Name }}-{{ .action }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "rancher-istio.labels" (dict "ctx" $ "component" "installer") | nindent 4 }}
  annotations:
    helm.sh/hook: {{ .hook }}
    helm.sh/hook-weight: "0"
    # No hook-succeeded: the finished Job keeps its log for `kubectl logs` until ttlSecondsAfterFinished removes it.
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: {{ $values.backoffLimit }}
  ttlSecondsAfterFinished: {{ $values.ttlSecondsAfterFinished }}
  activeDeadlineSeconds: {{ $values.timeouts.jobSeconds }}
  # Invalid input (2), a refused precondition (3) and a bug (1) fail the same way on every retry; retry only
  # istioctl failures and timeouts, and never count an evicted pod.
  podFailurePolicy:
    rules:
      - action: FailJob
        onExitCodes:
          containerName: installer
          operator: In
          values: [1, 2, 3]
      - action: Ignore
        onPodConditions:
          - type: DisruptionTarget
  template:
    metadata:
      labels:
        {{- include "rancher-istio.labels" (dict "ctx" $ "component" "installer") | nindent 8 }}
    spec:
      serviceAccountName: {{ include "rancher-istio.serviceAccountName" $ }}
      # The installer calls the API server; its token is the explicit kube-api-access volume below.
      automountServiceAccountToken: false
      restartPolicy: Never
      securityContext:
        {{- include "rancher-istio.podSecurityContext" $ | nindent 8 }}
      {{- with include "rancher-istio.imagePullSecrets" $ }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- include "rancher-istio.scheduling" $ | nindent 6 }}
      containers:
        - name: installer
          image: {{ include "rancher-istio.installerImage" $ | quote }}
          imagePullPolicy: {{ $values.imagePullPolicy }}
          command: ["istio-installer"]
          args: ["run", "--action", {{ .action | quote }}]
          env:
            {{- /* The lock names its holder by pod, so a later run can see that a killed holder's pod is gone. */}}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: RELEASE_NAME
              value: {{ $.Release.Name | quote }}
            - name: ISTIO_NAMESPACE
              value: {{ $.Release.Namespace | quote }}
            - name: CHART_VERSION
              value: {{ $.Chart.Version | quote }}
            - name: FORCE_INSTALL
              value: {{ include "rancher-istio.true" $.Values.forceInstall | default "false" | quote }}
            - name: RELEASE_MIRROR_ENABLED
              value: {{ include "rancher-istio.true" $values.releaseMirror.enabled | default "false" | quote }}
            - name: RELEASE_MIRROR_URL
              value: {{ include "rancher-istio.mirrorUrl" $ | quote }}
            - name: SECONDS_SLEEP
              value: {{ $values.debug.secondsSleep | quote }}
            - name: VALUES_FILE
              value: /etc/istio-installer/values/values.yaml
            - name: OVERLAY_DIR
              value: /etc/istio-installer/overlays
            - name: HOME
              value: /tmp
            - name: TMPDIR
              value: /tmp
            {{- /* Both spellings: Go (istioctl) reads the upper-case names, other tools only the lower-case ones. */}}
            {{- range $name, $value := dict "HTTP_PROXY" $values.proxy.httpProxy "HTTPS_PROXY" $values.proxy.httpsProxy "NO_PROXY" $values.proxy.noProxy }}
            {{- if $value }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            - name: {{ lower $name }}
              value: {{ $value | quote }}
            {{- end }}
            {{- end }}
            {{- if or $values.proxy.httpProxy $values.proxy.httpsProxy }}
            {{- /* Node 24's fetch (the release-mirror download) honours the proxy variables only when asked to. */}}
            - name: NODE_USE_ENV_PROXY
              value: "1"
            {{- end }}
          {{- with $values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- include "rancher-istio.containerSecurityContext" $ | nindent 12 }}
          volumeMounts:
            - name: values
              mountPath: /etc/istio-installer/values
              readOnly: true
            - name: overlays
              mountPath: /etc/istio-installer/overlays
              readOnly: true
            # The root filesystem is read-only; istioctl and the installer write their caches and temp files here.
            - name: tmp
              mountPath: /tmp
            {{- include "rancher-istio.apiTokenMount" $ | nindent 12 }}
      volumes:
        - name: values
          configMap:
            name: {{ $.Release.Name }}-installer-values
        - name: overlays
          configMap:
            name: {{ $.Release.Name }}-installer-overlays
        - name: tmp
          emptyDir: {}
        {{- include "rancher-istio.apiTokenVolume" $ | nindent 8 }}
{{- end -}}
