package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for the state directory")
	}
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v); skipping the full-disk test", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a filler file until only keep bytes are left (0: until the
// filesystem refuses).
func fill(t *testing.T, path string, keep uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			t.Fatal(err)
		}
		free := st.Bavail * uint64(st.Bsize)
		if free <= keep || free == 0 {
			return
		}
		n := min(uint64(len(chunk)), free-keep)
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// truncateWAL checkpoints the database and empties its WAL file: SQLite
// reuses a WAL's space, so without this a "full" disk may still take writes
// until the WAL has to grow.
func truncateWAL(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var busy, logPages, done int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy=%d err=%v", busy, err)
	}
}

// startSim runs the simulator as its own process with its files off the
// small disk: WhatsApp's servers do not share the gateway's disk.
func startSim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wasim")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/wasim").CombinedOutput(); err != nil {
		t.Fatalf("build wasim: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr, "-db", filepath.Join(t.TempDir(), "wasim.db"))
	out, _ := cmd.StdoutPipe()
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("wasim log:\n%s", logs)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("wasim did not start: %v\n%s", err, logs)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return strings.TrimSpace(line)
}

// raw does a request and returns the status, headers and body.
func (p *proc) raw(method, path, body string) (int, http.Header, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func eventually(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A full disk is a state: new work gets 507 storage_full with Retry-After
// (first from the watermark, while SQLite still has room, then from SQLite
// itself), readiness and metrics say so, incoming messages are not acked
// and are stored exactly once after space returns, and a state change made
// meanwhile reaches the row and the event log.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	state := mountTmpfs(t, 40<<20)
	bin := buildBinary(t)
	sim := startSim(t)
	addr := freeAddr(t)
	t.Setenv("MEOWGATE_STORE_MIN_FREE_MB", "8")
	p := startBinary(t, bin, state, addr, "--sandbox-addr", sim)
	p.call("POST", "/v1/instances", map[string]any{"name": "d", "connect": true, "settings": map[string]any{"send_delay_ms": 0}}, 201)
	p.call("POST", "/v1/sandbox/instances/d/scan", map[string]any{"phone": "+4915100000501"}, 200)
	p.waitState("d", "connected")
	p.call("POST", "/v1/instances/d/messages", map[string]any{"to": "+4915100000502", "text": "before"}, 202)
	filler := filepath.Join(state, "filler")

	// Below the watermark (4 MB left, 8 needed): refused, though SQLite has room.
	fill(t, filler, 4<<20)
	eventually(t, "the watermark", 5*time.Second, func() bool {
		code, _, _ := p.raw("GET", "/readyz", "")
		return code == 503
	})
	for _, c := range []struct{ path, body string }{
		{"/v1/instances/d/messages", `{"to":"+4915100000502","text":"refused"}`},
		{"/v1/instances", `{"name":"e"}`},
	} {
		code, hdr, body := p.raw("POST", c.path, c.body)
		if code != 507 || !strings.Contains(body, `"storage_full"`) || hdr.Get("Retry-After") == "" {
			t.Fatalf("POST %s below the watermark: %d %s (Retry-After %q), want 507 storage_full with Retry-After", c.path, code, body, hdr.Get("Retry-After"))
		}
	}
	if code, _, body := p.raw("GET", "/readyz", ""); code != 503 || !strings.Contains(body, "storage_full") {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if _, _, body := p.raw("GET", "/metrics", ""); !strings.Contains(body, "meowgate_storage_full 1") || !strings.Contains(body, "meowgate_storage_free_bytes ") {
		t.Fatalf("metrics do not report the full disk:\n%s", body)
	}
	// Incoming messages still fit in the headroom the watermark keeps.
	id := p.call("POST", "/v1/sandbox/instances/d/incoming", map[string]any{"from": "+4915100000502", "text": "in headroom"}, 202)["id"].(string)
	eventually(t, "the message in the headroom", 10*time.Second, func() bool {
		code, _, _ := p.raw("GET", "/v1/instances/d/messages/"+id, "")
		return code == 200
	})

	// Nothing left: incoming messages cannot be stored and are not acked.
	dbPath := filepath.Join(state, "meowgate.db")
	truncateWAL(t, dbPath)
	fill(t, filler, 0)
	texts := []string{"full 1", "full 2", "full 3"}
	for _, text := range texts {
		p.call("POST", "/v1/sandbox/instances/d/incoming", map[string]any{"from": "+4915100000502", "text": text}, 202)
	}
	time.Sleep(2 * time.Second)
	inbound := func() map[string]int {
		got := map[string]int{}
		for _, m := range p.call("GET", "/v1/instances/d/messages?direction=in&limit=100", nil, 200)["messages"].([]any) {
			got[m.(map[string]any)["text"].(string)]++
		}
		return got
	}
	if got := inbound(); got["full 1"]+got["full 2"]+got["full 3"] != 0 {
		t.Fatalf("messages were stored on the full disk: %v", got)
	}
	code, hdr, body := p.raw("POST", "/v1/instances/d/messages", `{"to":"+4915100000502","text":"refused"}`)
	if code != 507 || !strings.Contains(body, `"storage_full"`) || hdr.Get("Retry-After") == "" {
		t.Fatalf("POST messages on a full disk: %d %s", code, body)
	}

	// Space returns: each message is stored, exactly once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the messages received while full", 30*time.Second, func() bool {
		got := inbound()
		return got["full 1"] > 0 && got["full 2"] > 0 && got["full 3"] > 0
	})
	time.Sleep(time.Second)
	if got := inbound(); got["full 1"] != 1 || got["full 2"] != 1 || got["full 3"] != 1 || got["in headroom"] != 1 {
		t.Fatalf("messages stored %v, want each once", got)
	}
	eventually(t, "ready again", 5*time.Second, func() bool {
		code, _, _ := p.raw("GET", "/readyz", "")
		return code == 200
	})
	p.call("POST", "/v1/instances/d/messages", map[string]any{"to": "+4915100000502", "text": "after"}, 202)

	// A state change made while full reaches the row and the event log.
	p.call("POST", "/v1/instances/d/disconnect", nil, 200)
	p.waitState("d", "disconnected")
	truncateWAL(t, dbPath)
	fill(t, filler, 0)
	p.call("POST", "/v1/instances/d/connect", nil, 202)
	p.waitState("d", "connected")
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := func() (row, desired, last string) {
		if err := db.QueryRow(`SELECT state, desired FROM instances WHERE name = 'd'`).Scan(&row, &desired); err != nil {
			t.Fatal(err)
		}
		var data string
		if err := db.QueryRow(`SELECT data FROM events e JOIN instances i ON i.id = e.instance_id
			WHERE i.name = 'd' AND e.type = 'instance.state' ORDER BY e.id DESC LIMIT 1`).Scan(&data); err != nil {
			t.Fatal(err)
		}
		return row, desired, data
	}
	if row, desired, _ := stored(); row != "disconnected" || desired != "stopped" {
		t.Fatalf("row says %s/%s on the full disk; the test needs the write to fail", row, desired)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the state written after space returned", 15*time.Second, func() bool {
		row, desired, last := stored()
		return row == "connected" && desired == "running" && strings.Contains(last, `"state":"connected"`)
	})
	if os.Getenv("DISK_TEST_LOG") != "" {
		t.Logf("meowgate log:\n%s", p.logs)
	}
}
