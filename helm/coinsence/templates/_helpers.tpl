{{/* Names: the release's, shortened to what Kubernetes accepts. */}}
{{- define "coinsence.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "coinsence.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (api, worker, bots-matrix, migrate, ...). */}}
{{- define "coinsence.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "coinsence.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "coinsence.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "coinsence.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* DATABASE_URL from an existing Secret, then the settings every process shares. */}}
{{- define "coinsence.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret: the Secret holding the PostgreSQL URL" .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
- name: COINSENCE_DB_POOL
  value: {{ .Values.database.poolSize | quote }}
- name: COINSENCE_LOG
  value: {{ .Values.log | quote }}
{{- end -}}

{{/* Stripe for the processes that use it (API, worker): keys from an existing Secret only. */}}
{{- define "coinsence.billingEnv" -}}
{{- with .Values.billing.existingSecret }}
- name: COINSENCE_STRIPE_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.billing.secretKeyKey }}
- name: COINSENCE_STRIPE_WEBHOOK_SECRETS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.billing.webhookSecretsKey }}
- name: COINSENCE_STRIPE_FEE_BP
  value: {{ $.Values.billing.feeBasisPoints | quote }}
{{- with (default $.Values.publicUrl $.Values.billing.returnUrl) }}
- name: COINSENCE_BILLING_RETURN_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Tunables by their env names, in a stable order. */}}
{{- define "coinsence.extraEnv" -}}
{{- range $name := keys . | sortAlpha }}
- name: {{ $name }}
  value: {{ get $ $name | toString | quote }}
{{- end -}}
{{- end -}}

{{/* An init container that holds a process back until every schema is current. The image has no
shell, so it does not loop: it fails while anything is behind and the kubelet retries it. */}}
{{- define "coinsence.waitForSchema" -}}
{{- if .Values.migrations.waitForSchema -}}
initContainers:
  - name: wait-for-schema
    image: {{ include "coinsence.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: ["migrate", "--check"]
    env:
      {{- include "coinsence.databaseEnv" . | nindent 6 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .Values.migrations.resources | nindent 6 }}
{{- end }}
{{- end -}}

{{/* What every pod shares: identity, security, placement, a writable /tmp. */}}
{{- define "coinsence.podCommon" -}}
serviceAccountName: {{ include "coinsence.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
