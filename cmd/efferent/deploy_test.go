package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestKubernetesManifests: deploy/k8s's Deployment, Service,
// PodDisruptionBudget and HorizontalPodAutoscaler agree with each other
// and with efferent: the container's arguments are flags `efferent serve`
// accepts, the probes are its /readyz and /healthz, the token comes from
// EFFERENT_TOKEN (required off loopback), every selector matches the
// pods' labels, and the autoscaler's metric is a gauge the server exports.
func TestKubernetesManifests(t *testing.T) {
	docs := map[string]map[string]any{}
	for _, f := range []string{"deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", f))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs[doc["kind"].(string)] = doc
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	dep := docs["Deployment"]
	labels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for kind, path := range map[string][]any{
		"Deployment":          {"spec", "selector", "matchLabels"},
		"Service":             {"spec", "selector"},
		"PodDisruptionBudget": {"spec", "selector", "matchLabels"},
	} {
		sel, _ := get(docs[kind], path...).(map[string]any)
		if len(sel) == 0 {
			t.Fatalf("%s: no selector", kind)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, the pods have %v", kind, k, v, labels)
			}
		}
	}
	c := get(dep, "spec", "template", "spec", "containers", 0)
	args := get(c, "args").([]any)
	if args[0] != "serve" {
		t.Fatalf("container args %v: want efferent serve", args)
	}
	var flags []string
	for _, a := range args[1:] {
		flags = append(flags, a.(string))
	}
	cmd := serveCmd()
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatalf("efferent serve %v: %v", flags, err)
	}
	if addr, _ := cmd.Flags().GetString("addr"); !strings.HasSuffix(addr, ":8000") {
		t.Fatalf("--addr %q", addr)
	}
	if get(c, "env", 0, "name") != "EFFERENT_TOKEN" {
		t.Fatal("the token does not come from EFFERENT_TOKEN")
	}
	if get(c, "readinessProbe", "httpGet", "path") != "/readyz" || get(c, "livenessProbe", "httpGet", "path") != "/healthz" {
		t.Fatal("probes are not /readyz (readiness) and /healthz (liveness)")
	}
	port := get(c, "ports", 0, "name")
	if get(c, "readinessProbe", "httpGet", "port") != port || get(docs["Service"], "spec", "ports", 0, "targetPort") != port {
		t.Fatalf("probe or service port is not the container's %v", port)
	}
	hpa := docs["HorizontalPodAutoscaler"]
	if get(hpa, "spec", "scaleTargetRef", "name") != get(dep, "metadata", "name") {
		t.Fatal("the autoscaler targets another deployment")
	}
	metric := get(hpa, "spec", "metrics", 0, "pods", "metric", "name").(string)
	src, err := os.ReadFile(filepath.Join("..", "..", "server", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `Name: "`+metric+`"`) {
		t.Fatalf("the autoscaler scales on %q, which the server does not export", metric)
	}
	if minReplicas, pdb := get(hpa, "spec", "minReplicas").(int), get(docs["PodDisruptionBudget"], "spec", "minAvailable").(int); pdb >= minReplicas {
		t.Fatalf("minAvailable %d ≥ minReplicas %d: a drain could never proceed", pdb, minReplicas)
	}
}
