package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runRefused runs "meowgate serve" expecting it to refuse to start: it must
// exit non-zero within 30 s, and /readyz must never answer 200 meanwhile.
func runRefused(t *testing.T, bin, dir, addr string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--store", filepath.Join(dir, "meowgate.db")}, args...)...)
	cmd.Env = append(os.Environ(), "MEOWGATE_CONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timeout := time.After(30 * time.Second)
	ready := false
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit, got %v\n%s", err, &out)
			}
			return out.String()
		case <-timeout:
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("still running after 30s:\n%s", &out)
		case <-time.After(5 * time.Millisecond):
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK && !ready {
					ready = true
					t.Errorf("/readyz answered 200")
				}
			}
		}
	}
}

// stopClean stops p with SIGTERM and waits for exit 0: SQLite then folds
// the WAL into the main file, so every page is in meowgate.db.
func stopClean(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func wantAll(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// A database with one page overwritten in the middle is refused at start
// with a message naming the file, SQLite's finding and the remedy.
func TestDamagedDatabaseRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "meowgate.db")
	addr := freeAddr(t)
	t.Setenv("MEOWGATE_API_RATE_LIMIT", "10000")
	t.Setenv("MEOWGATE_API_RATE_BURST", "10000")
	p := startBinary(t, bin, dir, addr)
	p.call("POST", "/v1/instances", map[string]any{"name": "d"}, 201)
	for range 300 {
		p.call("POST", "/v1/instances/d/messages", map[string]any{"to": "+4915100000501", "text": strings.Repeat("x", 200)}, 202)
	}
	stopClean(t, p)

	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.BigEndian.Uint16(b[16:18]))
	pages := len(b) / pageSize
	if pages < 20 {
		t.Fatalf("only %d pages", pages)
	}
	// The first b-tree page from the middle on: its first byte is the page
	// type (2, 5, 10, 13); a free page would not be read by anything.
	k := pages / 2
	for ; k < pages; k++ {
		if t := b[k*pageSize]; t == 2 || t == 5 || t == 10 || t == 13 {
			break
		}
	}
	if k == pages {
		t.Fatal("no b-tree page in the second half")
	}
	f, err := os.OpenFile(db, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, pageSize), int64(k*pageSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out := runRefused(t, bin, dir, addr)
	wantAll(t, out, db, "is damaged", "quick_check", "restore the file from a backup")
}

// notifySocket listens where a child sends sd_notify datagrams and keeps
// them in order.
type notifySocket struct {
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) (*notifySocket, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := &notifySocket{}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n, path
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// The database deleted under a running process: /readyz turns 503, the
// watchdog pings stop, the log says why and the process exits non-zero.
// The restart refuses to start empty; --init starts over; a zero-length
// file where a database was is refused too.
func TestDatabaseLostAndInit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "meowgate.db")
	addr := freeAddr(t)
	notify, sock := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // pings and checks every 200 ms

	p := startBinary(t, bin, dir, addr)
	p.call("POST", "/v1/instances", map[string]any{"name": "gone"}, 201)
	p.call("POST", "/v1/instances/gone/messages", map[string]any{"to": "+4915100000502", "text": "hi"}, 202)
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	saw503 := false
	deadline := time.After(10 * time.Second)
wait:
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit after the database was deleted, got %v", err)
			}
			break wait
		case <-deadline:
			t.Fatal("still running 10s after the database was deleted")
		case <-time.After(5 * time.Millisecond):
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				saw503 = saw503 || res.StatusCode == http.StatusServiceUnavailable
			}
		}
	}
	if !saw503 {
		t.Error("/readyz never answered 503")
	}
	wantAll(t, p.logs.String(), "level=ERROR", "database file lost", db+" was deleted")
	msgs := notify.all()
	lost := -1
	pings := 0
	for i, m := range msgs {
		if strings.Contains(m, "STATUS=stopping: database file") {
			lost = i
		}
		if strings.Contains(m, "WATCHDOG=1") {
			pings++
			if lost >= 0 {
				t.Errorf("watchdog ping after the loss: %q", m)
			}
		}
	}
	if lost < 0 || pings == 0 {
		t.Errorf("want watchdog pings, then the loss in STATUS; got %q", msgs)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")

	// The restart refuses to create an empty database in its place.
	out := runRefused(t, bin, dir, addr)
	wantAll(t, out, db+" is missing", db+".initialized", "restore the file from a backup", "meowgate serve --init")
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused start left a database file: %v", err)
	}

	// --init starts over deliberately.
	p = startBinary(t, bin, dir, addr, "--init")
	if l := p.call("GET", "/v1/instances", nil, 200)["instances"].([]any); len(l) != 0 {
		t.Errorf("fresh database lists %d instances", len(l))
	}
	stopClean(t, p)

	// A zero-length file where the database was is refused as well.
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	out = runRefused(t, bin, dir, addr)
	wantAll(t, out, db+" is empty", "meowgate serve --init")

	// A first start (no marker, no database) stays what it was.
	fresh := t.TempDir()
	p = startBinary(t, bin, fresh, addr)
	stopClean(t, p)
	if _, err := os.Stat(filepath.Join(fresh, "meowgate.db.initialized")); err != nil {
		t.Errorf("no marker after the first start: %v", err)
	}
}
