{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart> (or the release name alone when it already contains the chart name), at most 63. */}}
{{- define "relay.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Component resource names: <fullname>-api, <fullname>-worker (the suffix always survives truncation). */}}
{{- define "relay.api.fullname" -}}
{{- printf "%s-api" (include "relay.fullname" . | trunc 59 | trimSuffix "-") -}}
{{- end -}}
{{- define "relay.worker.fullname" -}}
{{- printf "%s-worker" (include "relay.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{- define "relay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "relay.labels" -}}
helm.sh/chart: {{ include "relay.chart" . }}
app.kubernetes.io/name: {{ include "relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: relay
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of the release (both components). */}}
{{- define "relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Per component; call with (dict "ctx" $ "component" "api"). The two Deployments never share a selector. */}}
{{- define "relay.componentLabels" -}}
{{ include "relay.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "relay.componentSelectorLabels" -}}
{{ include "relay.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "relay.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "relay.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "relay.secretName" -}}
{{- default (include "relay.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "relay.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "relay.adminPort" -}}
{{- .Values.config.admin.port | default 9464 | int -}}
{{- end -}}
{{- define "relay.apiPort" -}}
{{- .Values.config.api.port | default 8080 | int -}}
{{- end -}}

{{/* Mount paths: the test suite re-roots these under a temporary directory, keep them absolute. */}}
{{- define "relay.configDir" -}}/etc/relay/config{{- end -}}
{{- define "relay.secretsDir" -}}/etc/relay/secrets{{- end -}}

{{/* The relay.yaml of the ConfigMap: config, plus the non-secret Kafka security properties. */}}
{{- define "relay.configFile" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $kafka := default (dict) $cfg.kafka -}}
{{- $props := default (dict) $kafka.properties -}}
{{- $k := .Values.kafka -}}
{{- if ne $k.securityProtocol "PLAINTEXT" }}
{{- $_ := set $props "security.protocol" $k.securityProtocol -}}
{{- end }}
{{- if hasPrefix "SASL_" $k.securityProtocol }}
{{- $_ := set $props "sasl.mechanism" $k.sasl.mechanism -}}
{{- end }}
{{- if $k.tls.customCa }}
{{- $_ := set $props "ssl.ca.location" (printf "%s/kafka-ca.crt" (include "relay.secretsDir" .)) -}}
{{- end }}
{{- if $k.tls.clientAuth }}
{{- $_ := set $props "ssl.certificate.location" (printf "%s/kafka-client.crt" (include "relay.secretsDir" .)) -}}
{{- $_ := set $props "ssl.key.location" (printf "%s/kafka-client.key" (include "relay.secretsDir" .)) -}}
{{- end }}
{{- $_ := set $kafka "properties" $props -}}
{{- $_ := set $cfg "kafka" $kafka -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* A duration of the config ("25s", "1m", "500ms", "1h", "1d", a bare number of seconds) in whole seconds,
     rounded up; "" for forms the chart does not parse (combinations such as "1m30s"). */}}
{{- define "relay.durationSeconds" -}}
{{- $d := toString . -}}
{{- if regexMatch "^[0-9]+$" $d -}}{{ $d }}
{{- else if regexMatch "^[0-9]+ms$" $d -}}{{ add1 (div (trimSuffix "ms" $d | int) 1000) }}
{{- else if regexMatch "^[0-9]+s$" $d -}}{{ trimSuffix "s" $d }}
{{- else if regexMatch "^[0-9]+m$" $d -}}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else if regexMatch "^[0-9]+h$" $d -}}{{ mul (trimSuffix "h" $d | int) 3600 }}
{{- else if regexMatch "^[0-9]+d$" $d -}}{{ mul (trimSuffix "d" $d | int) 86400 }}
{{- end -}}
{{- end -}}

{{/* Checks across values that the schema cannot express; fails the render with a clear message. */}}
{{- define "relay.validate" -}}
{{- $s := .Values.secrets -}}
{{- if and .Values.worker.keda.enabled .Values.worker.autoscaling.enabled -}}
{{- fail "worker.keda.enabled and worker.autoscaling.enabled are exclusive: KEDA manages its own HPA" -}}
{{- end -}}
{{- if hasKey (default (dict) .Values.config.api) "tokens" -}}
{{- fail "config.api.tokens: API tokens are secrets; set secrets.apiTokens or secrets.existingSecret" -}}
{{- end -}}
{{- if hasKey .Values.config "subscriptions" -}}
{{- fail "config.subscriptions: static subscriptions hold secrets; set the top-level subscriptions instead" -}}
{{- end -}}
{{- $k := .Values.kafka -}}
{{- if not $s.existingSecret -}}
{{- if and (hasPrefix "SASL_" $k.securityProtocol) (or (not $k.sasl.username) (not $k.sasl.password)) -}}
{{- fail (cat "kafka.securityProtocol is SASL_*: set kafka.sasl.username and kafka.sasl.password"
              "(or secrets.existingSecret)") -}}
{{- end -}}
{{- if and $k.tls.customCa (not $k.tls.caCert) -}}
{{- fail "kafka.tls.customCa: set kafka.tls.caCert (PEM) or secrets.existingSecret" -}}
{{- end -}}
{{- if and $k.tls.clientAuth (or (not $k.tls.clientCert) (not $k.tls.clientKey)) -}}
{{- fail (cat "kafka.tls.clientAuth: set kafka.tls.clientCert and kafka.tls.clientKey (PEM)"
              "or secrets.existingSecret") -}}
{{- end -}}
{{- end -}}
{{- if and (or $k.tls.customCa $k.tls.clientAuth) (not (has $k.securityProtocol (list "SSL" "SASL_SSL"))) -}}
{{- fail "kafka.tls.customCa and kafka.tls.clientAuth need kafka.securityProtocol SSL or SASL_SSL" -}}
{{- end -}}
{{- $drain := include "relay.durationSeconds" (default "25s" (default (dict) .Values.config.delivery).drain_timeout) -}}
{{- $grace := int .Values.worker.terminationGracePeriodSeconds -}}
{{- if and $drain (le $grace (add (int $drain) 5 | int)) -}}
{{- fail (printf (cat "worker.terminationGracePeriodSeconds (%d) must exceed config.delivery.drain_timeout (%s s)"
                      "by more than 5 s: the worker commits and leaves the group after draining") $grace $drain) -}}
{{- end -}}
{{- end -}}

{{/* Environment of both containers: secrets as *_FILE variables. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "relay.secretEnv" -}}
{{- $ctx := .ctx -}}
{{- $dir := include "relay.secretsDir" $ctx -}}
{{- if hasPrefix "SASL_" $ctx.Values.kafka.securityProtocol }}
- name: RELAY_KAFKA_PROPERTIES_SASL_USERNAME_FILE
  value: {{ $dir }}/kafka-sasl-username
- name: RELAY_KAFKA_PROPERTIES_SASL_PASSWORD_FILE
  value: {{ $dir }}/kafka-sasl-password
{{- end }}
{{- if eq .component "api" }}
- name: RELAY_API_TOKENS_FILE
  value: {{ $dir }}/api-tokens
{{- end }}
{{- if and (eq .component "worker") (or $ctx.Values.secrets.existingSecret $ctx.Values.subscriptions) }}
- name: RELAY_SUBSCRIPTIONS_FILE
  value: {{ $dir }}/subscriptions.json
{{- end }}
{{- end -}}

{{/* Volumes of both pods. */}}
{{- define "relay.volumes" -}}
- name: config
  configMap:
    name: {{ include "relay.fullname" . }}
- name: secrets
  secret:
    secretName: {{ include "relay.secretName" . }}
    defaultMode: 0440
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}
{{- define "relay.volumeMounts" -}}
- name: config
  mountPath: {{ include "relay.configDir" . }}
  readOnly: true
- name: secrets
  mountPath: {{ include "relay.secretsDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Probes on the admin port. */}}
{{- define "relay.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: admin}
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: {path: /healthz, port: admin}
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /readyz, port: admin}
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}

{{/* Pod annotations that roll the pods when the configuration or the chart-made Secret changes. */}}
{{- define "relay.checksums" -}}
checksum/config: {{ include "relay.configFile" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "relay.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{/* The chart-made Secret's stringData. An empty token list gets one generated token, kept across upgrades. */}}
{{- define "relay.secretData" -}}
{{- $tokens := .Values.secrets.apiTokens -}}
{{- if not $tokens -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "relay.fullname" .) -}}
{{- if and $existing $existing.data (index $existing.data "api-tokens") -}}
{{- $tokens = splitList "\n" (index $existing.data "api-tokens" | b64dec) -}}
{{- else -}}
{{- $tokens = list (printf "rly_%s" (sha256sum (printf "%s/%s/%s" .Release.Namespace .Release.Name (randAlphaNum 32)) | trunc 40)) -}}
{{- end -}}
{{- end -}}
api-tokens: {{ join "\n" $tokens | quote }}
{{- with .Values.kafka.sasl.username }}
kafka-sasl-username: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.password }}
kafka-sasl-password: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.tls.caCert }}
kafka-ca.crt: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.tls.clientCert }}
kafka-client.crt: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.tls.clientKey }}
kafka-client.key: {{ . | quote }}
{{- end }}
{{- if .Values.subscriptions }}
subscriptions.json: {{ toJson .Values.subscriptions | quote }}
{{- end }}
{{- end -}}
