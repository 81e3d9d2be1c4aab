package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testAdminKey = "test-admin-key-0123456789"

// testServer is a sandboxed gateway running in-process.
type testServer struct {
	url string
	cfg *Config
}

// startTestServer runs serve in sandbox mode until the test ends. An empty
// adminKey makes the server generate <state dir>/admin.key.
func startTestServer(t *testing.T, adminKey string) *testServer {
	t.Helper()
	cfg := DefaultConfig(func(string) string { return "" })
	cfg.Store.Path = filepath.Join(t.TempDir(), "meowgate.db")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Sandbox.Enabled = true
	cfg.API.AdminKey = adminKey
	cfg.Log.Level = "error"
	cfg.Log.WhatsmeowLevel = "error"

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, NewLogger(cfg.Log, io.Discard), io.Discard, started) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-started:
		return &testServer{url: "http://" + addr, cfg: cfg}
	case err := <-done:
		t.Fatalf("serve stopped before it started: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not start")
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// runCLI runs the meowgate command line with args and returns its exit code
// and output.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errw bytes.Buffer
	code = run(ctx, args, getenv, &out, &errw)
	return code, out.String(), errw.String()
}

// api calls the server directly with the admin key.
func (s *testServer) api(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClientInstancesLifecycle(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	auth := []string{"--url", s.url, "--key", testAdminKey}

	code, out, errOut := runCLI(t, noEnv, append([]string{"instances", "list"}, auth...)...)
	if code != 0 || !strings.Contains(out, "no instances") {
		t.Fatalf("empty list: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, noEnv, append([]string{"instances", "create", "x", "--phone", "+15550001111", "--device-name", "Kitchen Pi"}, auth...)...)
	if code != 0 {
		t.Fatalf("create: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "created instance x") || !strings.Contains(out, "state created") {
		t.Errorf("create output lacks the instance:\n%s", out)
	}
	token := ""
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			token = strings.TrimSpace(v)
		}
	}
	if len(token) < 16 {
		t.Errorf("create output lacks the token:\n%s", out)
	}
	if strings.Contains(out, "meowgate qr") {
		t.Errorf("create without --connect mentions meowgate qr:\n%s", out)
	}

	// Flags may come before the subcommand's NAME too.
	code, out, errOut = runCLI(t, noEnv, append(append([]string{"instances", "create"}, auth...), "--connect", "y")...)
	if code != 0 || !strings.Contains(out, "created instance y") || !strings.Contains(out, "token: ") ||
		!strings.Contains(out, "meowgate qr y") {
		t.Fatalf("create --connect: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, noEnv, append([]string{"instances", "list"}, auth...)...)
	if code != 0 {
		t.Fatalf("list: exit %d\nstderr: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATE PHONE" {
		t.Fatalf("list output:\n%s", out)
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "x created +15550001111" {
		t.Errorf("list row for x = %q", got)
	}
	if f := strings.Fields(lines[2]); len(f) != 3 || f[0] != "y" || f[2] != "-" {
		t.Errorf("list row for y = %q", lines[2])
	}

	code, out, _ = runCLI(t, noEnv, append([]string{"instances", "list", "--json"}, auth...)...)
	var listed struct {
		Instances []struct {
			Name       string `json:"name"`
			DeviceName string `json:"device_name"`
		} `json:"instances"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed.Instances) != 2 {
		t.Fatalf("list --json: exit %d\n%s", code, out)
	}
	if listed.Instances[0].DeviceName != "Kitchen Pi" {
		t.Errorf("device_name = %q, want Kitchen Pi", listed.Instances[0].DeviceName)
	}

	code, out, errOut = runCLI(t, noEnv, append([]string{"instances", "connect", "x"}, auth...)...)
	if code != 0 || !strings.HasPrefix(out, "x: starting") {
		t.Fatalf("connect: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, noEnv, append([]string{"instances", "connect", "x"}, auth...)...)
	if code != 1 || !strings.Contains(errOut, "already_connected") {
		t.Errorf("second connect: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, noEnv, append([]string{"instances", "logout", "x"}, auth...)...)
	if code != 1 || !strings.Contains(errOut, "not_paired") {
		t.Errorf("logout of an unlinked instance: exit %d, stderr %q", code, errOut)
	}

	for _, name := range []string{"x", "y"} {
		// Deleted once its QR is up: whatsmeow races with itself when a
		// socket is closed while it still writes the pairing handshake
		// (FrameSocket.SendFrame against Close, inside the library).
		waitFor(t, name+"'s QR code", 15*time.Second, func() bool {
			code, _ := s.api(t, "GET", "/v1/instances/"+name+"/qr", "")
			return code == 200
		})
		code, out, errOut = runCLI(t, noEnv, append([]string{"instances", "delete", name}, auth...)...)
		if code != 0 || out != name+": deleted\n" {
			t.Fatalf("delete %s: exit %d\nstdout: %s\nstderr: %s", name, code, out, errOut)
		}
	}
	code, out, _ = runCLI(t, noEnv, append([]string{"instances", "list"}, auth...)...)
	if code != 0 || !strings.Contains(out, "no instances") {
		t.Errorf("list after delete: exit %d\n%s", code, out)
	}
}

func TestClientQRLinks(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	auth := []string{"--url", s.url, "--key", testAdminKey}
	if code, out, errOut := runCLI(t, noEnv, append([]string{"instances", "create", "x"}, auth...)...); code != 0 {
		t.Fatalf("create: exit %d\n%s%s", code, out, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, append([]string{"qr", "x"}, auth...), noEnv, &stdout, &stderr) }()

	waitFor(t, "a QR code", 15*time.Second, func() bool {
		status, _ := s.api(t, "GET", "/v1/instances/x/qr", "")
		return status == http.StatusOK
	})
	waitFor(t, "the QR code on screen", 10*time.Second, func() bool {
		return strings.Contains(stdout.String(), "Scan with WhatsApp → Linked devices → Link a device (expires in ")
	})
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Error("escape sequences written to a non-terminal")
	}
	if status, body := s.api(t, "POST", "/v1/sandbox/instances/x/scan", `{"phone":"+15550001111"}`); status != http.StatusOK {
		t.Fatalf("scan: %d %s", status, body)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("qr: exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("qr did not exit\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "linked as +15550001111 (15550001111") {
		t.Errorf("qr output lacks the link:\n%s", out)
	}
	// The drawing is made of block characters.
	if !strings.ContainsAny(out, "█▀▄") {
		t.Errorf("qr output lacks the QR drawing:\n%s", out)
	}

	code, out, errOut := runCLI(t, noEnv, append([]string{"qr", "x"}, auth...)...)
	if code != 0 || out != "x is connected as +15550001111\n" {
		t.Errorf("qr of a connected instance: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, noEnv, append([]string{"instances", "list"}, auth...)...)
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), "x connected +15550001111") {
		t.Errorf("list after linking: exit %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, noEnv, append([]string{"instances", "logout", "x"}, auth...)...)
	if code != 0 || !strings.HasPrefix(out, "x: logged_out") {
		t.Errorf("logout: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestClientQRInterrupted(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	auth := []string{"--url", s.url, "--key", testAdminKey}
	if code, out, errOut := runCLI(t, noEnv, append([]string{"instances", "create", "x"}, auth...)...); code != 0 {
		t.Fatalf("create: exit %d\n%s%s", code, out, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, append([]string{"qr", "x"}, auth...), noEnv, &stdout, &stderr) }()
	waitFor(t, "the QR code on screen", 15*time.Second, func() bool {
		return strings.Contains(stdout.String(), "Link a device")
	})
	cancel()
	select {
	case code := <-exit:
		if code != 130 {
			t.Errorf("interrupted qr: exit %d, want 130\nstderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("qr did not stop when interrupted")
	}
}

func TestClientKeyDiscovery(t *testing.T) {
	s := startTestServer(t, "") // the server writes <state dir>/admin.key
	key, err := ReadAdminKey(s.cfg.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	listen := strings.TrimPrefix(s.url, "http://")
	conf := filepath.Join(t.TempDir(), "config.toml")
	toml := fmt.Sprintf("[server]\nlisten = %q\n\n[store]\npath = %q\n", listen, s.cfg.Store.Path)
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Neither --url nor --key: both come from the config.
	code, out, errOut := runCLI(t, noEnv, "instances", "create", "k", "--config", conf)
	if code != 0 || !strings.Contains(out, "created instance k") {
		t.Fatalf("create with the discovered key: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// The config may also come from $MEOWGATE_CONFIG.
	env := map[string]string{"MEOWGATE_CONFIG": conf}
	code, out, errOut = runCLI(t, func(k string) string { return env[k] }, "instances", "list")
	if code != 0 || !strings.Contains(out, "k ") {
		t.Fatalf("list with $MEOWGATE_CONFIG: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// MEOWGATE_API_ADMIN_KEY works through config loading.
	env = map[string]string{"MEOWGATE_API_ADMIN_KEY": key}
	code, _, errOut = runCLI(t, func(k string) string { return env[k] }, "instances", "list", "--url", s.url)
	if code != 0 {
		t.Fatalf("list with $MEOWGATE_API_ADMIN_KEY: exit %d\nstderr: %s", code, errOut)
	}
	env = map[string]string{"MEOWGATE_API_ADMIN_KEY": "not-the-key"}
	code, _, errOut = runCLI(t, func(k string) string { return env[k] }, "instances", "list", "--url", s.url)
	if code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Fatalf("list with a wrong $MEOWGATE_API_ADMIN_KEY: exit %d\nstderr: %s", code, errOut)
	}

	// A state directory without admin.key: the client must not create one.
	empty := t.TempDir()
	conf2 := filepath.Join(t.TempDir(), "config.toml")
	toml = fmt.Sprintf("[server]\nlisten = %q\n\n[store]\npath = %q\n", listen, filepath.Join(empty, "meowgate.db"))
	if err := os.WriteFile(conf2, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, noEnv, "instances", "list", "--config", conf2)
	if code != 1 || !strings.Contains(errOut, "no admin key found ("+filepath.Join(empty, "admin.key")+" does not exist") ||
		!strings.Contains(errOut, "--key") {
		t.Errorf("missing admin.key: exit %d\nstderr: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(empty, "admin.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the client created admin.key (stat: %v)", err)
	}
}

func TestClientKeyUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.key")
	if err := os.WriteFile(path, []byte("secret\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "config.toml")
	toml := fmt.Sprintf("[store]\npath = %q\n", filepath.Join(dir, "meowgate.db"))
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, noEnv, "qr", "x", "--config", conf)
	want := "meowgate: cannot read the admin key (" + path + ": permission denied); run as root or pass --key\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

func TestClientErrors(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	auth := []string{"--url", s.url, "--key", testAdminKey}
	for _, args := range [][]string{
		{"instances", "delete", "nope"},
		{"instances", "connect", "nope"},
		{"instances", "logout", "nope"},
		{"qr", "nope"},
	} {
		code, out, errOut := runCLI(t, noEnv, append(args, auth...)...)
		if code != 1 || out != "" || errOut != "meowgate: not_found: instance not found\n" {
			t.Errorf("%v: exit %d\nstdout: %q\nstderr: %q", args, code, out, errOut)
		}
	}

	for _, args := range [][]string{{"instances", "list"}, {"qr", "x"}, {"instances", "create", "x"}} {
		code, _, errOut := runCLI(t, noEnv, append(args, "--url", s.url, "--key", "wrong")...)
		if code != 1 || !strings.Contains(errOut, "unauthorized: missing or invalid API key") {
			t.Errorf("%v with a wrong key: exit %d, stderr %q", args, code, errOut)
		}
	}

	code, _, errOut := runCLI(t, noEnv, append([]string{"instances", "create", "bad name!"}, auth...)...)
	if code != 1 || !strings.Contains(errOut, "invalid: ") || !strings.Contains(errOut, "  name: ") {
		t.Errorf("invalid name: exit %d, stderr %q", code, errOut)
	}

	// Nothing listens there.
	code, _, errOut = runCLI(t, noEnv, "instances", "list", "--url", "http://127.0.0.1:1", "--key", "k")
	if code != 1 || !strings.Contains(errOut, "cannot reach meowgate at http://127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d, stderr %q", code, errOut)
	}
}

func TestClientCLIUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"instances", "frobnicate"}, 2, `unknown command "instances frobnicate"`},
		{[]string{"instances", "create"}, 2, "instances create needs exactly one NAME"},
		{[]string{"instances", "delete", "a", "b"}, 2, "instances delete needs exactly one NAME"},
		{[]string{"instances", "list", "extra"}, 2, "instances list takes no arguments"},
		{[]string{"qr"}, 2, "qr needs exactly one NAME"},
		{[]string{"qr", "x", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"instances", "list", "--help"}, 0, "meowgate instances list [--json]"},
	} {
		code, _, errOut := runCLI(t, noEnv, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.err)
		}
	}
}

func TestClientListenURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":  "http://127.0.0.1:8080",
		"0.0.0.0:8080":    "http://127.0.0.1:8080",
		"[::]:9000":       "http://127.0.0.1:9000",
		":8080":           "http://127.0.0.1:8080",
		"192.168.1.5:80":  "http://192.168.1.5:80",
		"[::1]:8080":      "http://[::1]:8080",
		"pi.local:8080":   "http://pi.local:8080",
		"localhost:12345": "http://localhost:12345",
	} {
		if got := listenURL(in); got != want {
			t.Errorf("listenURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		c    bool
		u    string
	}{
		{[]string{"x", "--connect", "--url", "u"}, []string{"x"}, true, "u"},
		{[]string{"--url", "u", "x"}, []string{"x"}, false, "u"},
		{[]string{"a", "--connect", "b"}, []string{"a", "b"}, true, ""},
		{[]string{"--", "--connect"}, []string{"--connect"}, false, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c := fs.Bool("connect", false, "")
		u := fs.String("url", "", "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil || strings.Join(pos, ",") != strings.Join(tc.pos, ",") || *c != tc.c || *u != tc.u {
			t.Errorf("%v: pos %q, connect %v, url %q, err %v", tc.args, pos, *c, *u, err)
		}
	}
}

func TestClientKeyErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("admin key: %w", &os.PathError{Op: "open", Path: "/var/lib/meowgate/admin.key", Err: syscall.EACCES}),
			"cannot read the admin key (/var/lib/meowgate/admin.key: permission denied); run as root or pass --key"},
		{fmt.Errorf("admin key: %w", &os.PathError{Op: "open", Path: "data/admin.key", Err: syscall.ENOENT}),
			"no admin key found (data/admin.key does not exist; the server writes it on first start); pass --key, or --config with the server's configuration"},
		{fmt.Errorf("admin key: %w", &os.PathError{Op: "read", Path: "/k", Err: syscall.EISDIR}),
			"cannot read the admin key (/k: is a directory); pass --key"},
		{errors.New("admin key: /k is empty"), "cannot read the admin key (admin key: /k is empty); pass --key"},
	} {
		if got := adminKeyError(tc.err).Error(); got != tc.want {
			t.Errorf("adminKeyError(%v)\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}
