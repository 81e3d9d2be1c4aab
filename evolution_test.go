package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEvolutionN8nNode is the acceptance test of the Evolution API
// compatibility: test/evolution/run.mjs loads n8n's Evolution API node (the
// npm package n8n-nodes-evolution-api, pinned in test/evolution/package.json)
// and runs a workflow's worth of its operations against the real binary in
// sandbox mode — create, connect, link, fetch, webhook, send text and image,
// receive, logout, delete. It needs Node.js and the package installed:
//
//	npm ci --ignore-scripts --prefix test/evolution
//	MEOWGATE_EVOLUTION_TESTS=1 go test -run TestEvolutionN8nNode .
//
// Without MEOWGATE_EVOLUTION_TESTS=1 it skips; with it, a missing node or
// node_modules is a failure (.ci/run sets it).
func TestEvolutionN8nNode(t *testing.T) {
	if os.Getenv("MEOWGATE_EVOLUTION_TESTS") != "1" {
		t.Skip("set MEOWGATE_EVOLUTION_TESTS=1 to drive n8n's Evolution API node against the binary (needs Node.js and `npm ci --ignore-scripts --prefix test/evolution`)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("MEOWGATE_EVOLUTION_TESTS=1 but Node.js is missing (install Node.js 20 or later): %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("test", "evolution"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "n8n-nodes-evolution-api", "package.json")); err != nil {
		t.Fatalf("MEOWGATE_EVOLUTION_TESTS=1 but the n8n node is not installed (npm ci --ignore-scripts --prefix test/evolution): %v", err)
	}

	bin := buildBinary(t)
	addr := freeAddr(t)
	t.Setenv("MEOWGATE_COMPAT_EVOLUTION", "true") // startBinary passes the environment on
	p := startBinary(t, bin, t.TempDir(), addr, "--sandbox")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MEOWGATE_URL=http://"+addr, "MEOWGATE_ADMIN_KEY="+p.key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if strings.Contains(string(out), "GET /instance/fetchInstances → 404") {
			hint = "\n(the credential test's GET /instance/fetchInstances answered 404: is the compatibility there and switched on by MEOWGATE_COMPAT_EVOLUTION=true?)"
		}
		t.Fatalf("node run.mjs: %v%s\n%s", err, hint, out)
	}
	t.Logf("node run.mjs:\n%s", out)
}
