package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The shipped alert rules are well formed: promtool checks them and runs
// their unit tests when it is installed (Debian's prometheus package, as
// in CI); without it, the structure is checked here.
func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile("docs/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(doc.Groups) == 0 {
		t.Fatal("alerts.yml has no groups")
	}
	var names []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("group %s: a rule without alert name or expr: %+v", g.Name, r)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
		}
	}
	for _, want := range []string{"MeowgateQueueStuck", "MeowgateWebhookDeadLettersGrowing", "MeowgateInstanceNotConnected"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s", want)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (apt-get install prometheus): only the structure was checked")
		return
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "docs/monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricRefs returns the metric names the shipped alert rules and
// dashboard query.
func metricRefs(t *testing.T) []string {
	t.Helper()
	rules, err := os.ReadFile("docs/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("docs/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	text := string(rules)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			text += "\n" + tg.Expr
		}
	}
	var out []string
	for _, m := range regexp.MustCompile(`\b(?:meowgate|go|process)_[a-z_]+`).FindAllString(text, -1) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}
