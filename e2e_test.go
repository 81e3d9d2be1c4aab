package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as a user or systemd would.

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meowgate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	key  string
	logs *bytes.Buffer
}

func startBinary(t *testing.T, bin, dir, addr string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--store", filepath.Join(dir, "meowgate.db")}, args...)...)
	cmd.Env = append(os.Environ(), "MEOWGATE_LOG_LEVEL=debug", "MEOWGATE_CONFIG=")
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("meowgate log:\n%s", logs)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				key, err := os.ReadFile(filepath.Join(dir, "admin.key"))
				if err != nil {
					t.Fatal(err)
				}
				p.key = strings.TrimSpace(string(key))
				return p
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("meowgate did not become ready:\n%s", logs)
	return nil
}

func (p *proc) call(method, path string, body any, want int) map[string]any {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+p.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		p.t.Fatalf("%s %s: %d %s (want %d)", method, path, res.StatusCode, b, want)
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

func (p *proc) waitState(name, state string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = p.call("GET", "/v1/instances/"+name+"/state", nil, 200)
		if last["state"] == state {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s never reached %s; last %v", name, state, last)
	return nil
}

// A killed sandbox comes back as a killed gateway would against WhatsApp:
// linked instances log in again without a QR code.
func TestSandboxSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	p := startBinary(t, bin, dir, addr, "--sandbox")
	p.call("POST", "/v1/instances", map[string]any{"name": "pi", "connect": true}, 201)
	p.call("POST", "/v1/sandbox/instances/pi/scan", map[string]any{"phone": "+4915100000099"}, 200)
	st := p.waitState("pi", "connected")

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startBinary(t, bin, dir, addr, "--sandbox")
	st2 := p2.waitState("pi", "connected")
	if st2["jid"] != st["jid"] {
		t.Fatalf("jid changed across restart: %v → %v", st["jid"], st2["jid"])
	}
	// No QR was shown after the restart.
	evs := p2.call("GET", "/v1/instances/pi/events?limit=1000", nil, 200)["events"].([]any)
	qrs := 0
	for _, e := range evs {
		if e.(map[string]any)["type"] == "instance.qr" {
			qrs++
		}
	}
	if qrs != 1 {
		t.Fatalf("%d QR events, want only the one before the kill", qrs)
	}
	// A clean stop says so and exits 0.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.logs)
	}
	if !strings.Contains(p2.logs.String(), "stopped") {
		t.Fatalf("no clean shutdown in log:\n%s", p2.logs)
	}
}

func TestCheckConfigBinary(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[server]\nlisten = \"127.0.0.1:8080\"\nlistn = 1\n"), 0o600)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check-config", "--config", bad}, func(string) string { return "" }, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "server.listn") || !strings.Contains(errb.String(), ":3") {
		t.Fatalf("check-config bad: code %d, stderr %q", code, errb.String())
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[server]\nlisten = \"127.0.0.1:8080\"\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"check-config", "--config", good}, func(string) string { return "" }, &out, &errb); code != 0 {
		t.Fatalf("check-config good: %d %s", code, errb.String())
	}
	// The shipped example is valid as it stands.
	if code := run(context.Background(), []string{"check-config", "--config", "config.example.toml"}, func(string) string { return "" }, &out, &errb); code != 0 {
		t.Fatalf("check-config example: %d %s", code, errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, io.Discard); code != 0 {
		t.Fatal(code)
	}
	if sc := bufio.NewScanner(&out); !sc.Scan() || !strings.HasPrefix(sc.Text(), "meowgate ") {
		t.Fatalf("version output %q", out.String())
	}
	_ = fmt.Sprint()
}
