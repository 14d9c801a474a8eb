{{- define "redash-gitops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "redash-gitops.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "redash-gitops.labels" -}}
{{ include "redash-gitops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "redash-gitops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "redash-gitops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* What the operator needs on the resources it reconciles, and nothing more. */}}
{{- define "redash-gitops.rules" -}}
- apiGroups: ["redash-gitops.dev"]
  resources: ["queries", "dashboards", "alerts", "querysnippets", "redashconnections"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["redash-gitops.dev"]
  resources: ["queries/status", "dashboards/status", "alerts/status", "querysnippets/status", "redashconnections/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["redash-gitops.dev"]
  resources: ["queries/finalizers", "dashboards/finalizers", "alerts/finalizers", "querysnippets/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
