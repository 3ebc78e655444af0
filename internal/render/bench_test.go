package render

import "testing"

// BenchmarkFileCached is the steady state of compiling a package file
// again (re-add, update): parse once, execute many times.
func BenchmarkFileCached(b *testing.B) {
	e := New()
	text := []byte(benchText)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.File("bench/deployment.yaml", text, benchData); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileCold parses and executes a file with a fresh engine each
// time: the cost of the first compile of a package file, to compare with
// spawning a gomplate process per file.
func BenchmarkFileCold(b *testing.B) {
	text := []byte(benchText)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New().File("bench/deployment.yaml", text, benchData); err != nil {
			b.Fatal(err)
		}
	}
}

var benchData = map[string]any{
	"namespace": "ghost", "image": "ghost:5.105.0", "port": "2368", "domain": "ghost.cloud.example.com",
	"dbHost": "mysql.mysql.svc.cluster.local", "dbPort": "3306", "dbUser": "ghost", "dbName": "ghost",
	"smtp": map[string]any{"host": "smtp.example.com", "port": "587", "from": "a@b.c", "user": "u", "tls": "false"},
}

const benchText = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ghost
  namespace: {{ .namespace }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: {{ .image }}
          ports:
            - containerPort: {{ .port }}
          env:
            - name: url
              value: "https://{{ .domain }}"
            - name: database__connection__host
              value: {{ .dbHost | quote }}
            - name: database__connection__port
              value: {{ .dbPort | quote }}
            - name: database__connection__user
              value: {{ .dbUser | quote }}
            - name: database__connection__database
              value: {{ .dbName | quote }}
            - name: mail__options__host
              value: {{ .smtp.host | quote }}
            - name: mail__options__port
              value: {{ .smtp.port | quote }}
            - name: mail__from
              value: {{ .smtp.from | default "noreply@example.com" | quote }}
`
