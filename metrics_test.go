package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scrape reads /metrics and returns every sample by its name and labels,
// and the exposition itself.
func scrape(t *testing.T, s *testServer) (map[string]float64, string) {
	t.Helper()
	code, body := s.api(t, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		if _, dup := samples[line[:i]]; dup {
			t.Fatalf("sample %q twice", line[:i])
		}
		samples[line[:i]] = v
	}
	return samples, string(body)
}

// statusOf returns a message's status.
func statusOf(t *testing.T, s *testServer, inst, id string) string {
	t.Helper()
	code, body := s.api(t, "GET", "/v1/instances/"+inst+"/messages/"+id, "")
	if code != 200 {
		t.Fatalf("GET message %s: %d %s", id, code, body)
	}
	var r struct{ Message struct{ Status string } }
	_ = json.Unmarshal(body, &r)
	return r.Message.Status
}

func mustAPI(t *testing.T, s *testServer, method, path, body string, want int) []byte {
	t.Helper()
	code, out := s.api(t, method, path, body)
	if code != want {
		t.Fatalf("%s %s: %d %s (want %d)", method, path, code, out, want)
	}
	return out
}

func instanceState(t *testing.T, s *testServer, name string) string {
	var r struct{ State string }
	_ = json.Unmarshal(mustAPI(t, s, "GET", "/v1/instances/"+name+"/state", "", 200), &r)
	return r.State
}

// A scripted run against the simulator: messages sent, one to a number
// not on WhatsApp, messages received, webhook receivers answering 400
// (dead at once) and 500 (retried), a dropped connection, a queue left
// behind by a disconnect, a deleted instance. /metrics counts all of it
// exactly, per instance, and nothing of the deleted one.
func TestMetricsScriptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("links two instances through the simulator")
	}
	var calls400, calls500 atomic.Int32
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls400.Add(1)
		http.Error(w, "no thanks", http.StatusBadRequest)
	}))
	defer dead.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls500.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer failing.Close()

	s := startTestServer(t, testAdminKey)
	link := func(name, phone, hook, events string) {
		mustAPI(t, s, "POST", "/v1/instances", fmt.Sprintf(`{"name":%q,"connect":true,"settings":{"send_delay_ms":0},
			"webhook":{"url":%q,"events":[%q]}}`, name, hook, events), 201)
		mustAPI(t, s, "POST", "/v1/sandbox/instances/"+name+"/scan", fmt.Sprintf(`{"phone":%q}`, phone), 200)
		waitFor(t, name+" connected", 20*time.Second, func() bool { return instanceState(t, s, name) == "connected" })
	}
	link("shop", "+4915100000701", dead.URL, "message.sent")
	link("hold", "+4915100000702", failing.URL, "message.received")

	send := func(to, text string) string {
		var r struct{ Message struct{ ID string } }
		_ = json.Unmarshal(mustAPI(t, s, "POST", "/v1/instances/shop/messages", fmt.Sprintf(`{"to":%q,"text":%q}`, to, text), 202), &r)
		return r.Message.ID
	}
	var ok []string
	for i := range 3 {
		ok = append(ok, send("+4915100000703", fmt.Sprintf("hello %d", i)))
	}
	bad := send("+9991234567", "nobody there")
	waitFor(t, "receipts of the sent messages", 30*time.Second, func() bool {
		for _, id := range ok {
			if st := statusOf(t, s, "shop", id); st != "delivered" && st != "read" {
				return false
			}
		}
		return statusOf(t, s, "shop", bad) == "failed"
	})
	for i := range 2 {
		mustAPI(t, s, "POST", "/v1/sandbox/instances/hold/incoming", fmt.Sprintf(`{"from":"+4915100000704","text":"in %d"}`, i), 202)
	}
	waitFor(t, "webhook attempts", 20*time.Second, func() bool { return calls400.Load() >= 3 && calls500.Load() >= 1 })

	// A dropped connection is a reconnect; a requested disconnect is not.
	mustAPI(t, s, "POST", "/v1/sandbox/instances/hold/kick", "", 200)
	waitFor(t, "hold back", 30*time.Second, func() bool { return instanceState(t, s, "hold") == "connected" })
	mustAPI(t, s, "POST", "/v1/instances/shop/disconnect", "", 200)
	send("+4915100000703", "waits in the queue")
	mustAPI(t, s, "POST", "/v1/instances", `{"name":"gone"}`, 201)
	if _, body := scrape(t, s); !strings.Contains(body, `name="gone"`) {
		t.Fatal("a new instance has no series")
	}
	mustAPI(t, s, "DELETE", "/v1/instances/gone", "", 204)
	time.Sleep(300 * time.Millisecond) // let the counting catch up

	var got map[string]float64
	var body string
	want := map[string]float64{
		`meowgate_instances{state="connected"}`:                               1,
		`meowgate_instances{state="disconnected"}`:                            1,
		`meowgate_instance_connected{name="shop"}`:                            0,
		`meowgate_instance_connected{name="hold"}`:                            1,
		`meowgate_messages_sent_total{name="shop"}`:                           3,
		`meowgate_messages_failed_total{name="shop"}`:                         1,
		`meowgate_messages_expired_total{name="shop"}`:                        0,
		`meowgate_messages_received_total{name="shop"}`:                       0,
		`meowgate_messages_sent_total{name="hold"}`:                           0,
		`meowgate_messages_received_total{name="hold"}`:                       2,
		`meowgate_message_send_latency_seconds_count{name="shop"}`:            3,
		`meowgate_message_send_latency_seconds_bucket{name="shop",le="+Inf"}`: 3,
		`meowgate_message_delivery_latency_seconds_count{name="shop"}`:        3,
		`meowgate_message_delivery_latency_seconds_count{name="hold"}`:        0,
		`meowgate_instance_reconnects_total{name="hold"}`:                     1,
		`meowgate_instance_reconnects_total{name="shop"}`:                     0,
		`meowgate_queue_depth{name="shop"}`:                                   1,
		`meowgate_queue_depth{name="hold"}`:                                   0,
		`meowgate_queue_oldest_age_seconds{name="hold"}`:                      0,
		`meowgate_webhook_deliveries{name="shop",status="dead"}`:              3,
		`meowgate_webhook_backlog{name="shop"}`:                               0,
		`meowgate_webhook_backlog{name="hold"}`:                               2,
		`meowgate_webhook_deliveries{name="hold",status="dead"}`:              0,
		`meowgate_webhook_attempts_total{name="shop",outcome="dead"}`:         3,
		`meowgate_webhook_attempts_total{name="shop",outcome="delivered"}`:    0,
		`meowgate_webhook_attempts_total{name="hold",outcome="dead"}`:         0,
		`meowgate_storage_full`:                                               0,
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, body = scrape(t, s)
		var diffs []string
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				diffs = append(diffs, fmt.Sprintf("%s = %v (present %v), want %v", k, g, ok, v))
			}
		}
		if len(diffs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(diffs)
			t.Fatalf("metrics:\n%s\n\n%s", strings.Join(diffs, "\n"), body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Gauges that depend on the clock.
	for _, k := range []string{`meowgate_queue_oldest_age_seconds{name="shop"}`, `meowgate_webhook_oldest_pending_age_seconds{name="hold"}`,
		`meowgate_database_size_bytes`, `meowgate_database_wal_size_bytes`, `go_goroutines`, `process_resident_memory_bytes`} {
		if got[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, got[k])
		}
	}
	if got[`meowgate_webhook_attempts_total{name="hold",outcome="failed"}`] < 1 {
		t.Errorf("hold's failed webhook attempts are not counted:\n%s", body)
	}
	if got[`meowgate_webhook_deliveries{name="hold",status="failed"}`]+got[`meowgate_webhook_deliveries{name="hold",status="pending"}`] != 2 {
		t.Errorf("hold's deliveries are not all pending or failed:\n%s", body)
	}
	// Cumulative buckets: the first three of each message fit under +Inf,
	// and no bucket counts more than the next.
	for _, h := range []string{"meowgate_message_send_latency_seconds", "meowgate_message_delivery_latency_seconds"} {
		prev := -1.0
		for _, le := range []string{"0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "900", "3600", "+Inf"} {
			v, ok := got[fmt.Sprintf(`%s_bucket{name="shop",le=%q}`, h, le)]
			if !ok || v < prev {
				t.Errorf("%s bucket le=%s = %v (present %v) after %v", h, le, v, ok, prev)
			}
			prev = v
		}
	}
	// The shipped dashboard and alerts query only metrics that exist.
	for _, name := range metricRefs(t) {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(body) {
			t.Errorf("docs/monitoring uses %s, which /metrics does not have", name)
		}
	}
	if strings.Contains(body, `status="delivered"`) {
		t.Error("delivered webhook deliveries are counted: that is history, and costs a scan")
	}
	if strings.Contains(body, `name="gone"`) {
		t.Error("the deleted instance still has series")
	}
	if !regexp.MustCompile(`(?m)^meowgate_build_info\{version="[^"]+"\} 1$`).MatchString(body) {
		t.Error("no meowgate_build_info")
	}
	for _, fam := range []string{"meowgate_messages_sent_total counter", "meowgate_message_send_latency_seconds histogram",
		"meowgate_queue_depth gauge", "meowgate_instances gauge"} {
		if !strings.Contains(body, "# TYPE "+fam+"\n") {
			t.Errorf("no TYPE line %q", fam)
		}
	}

	// The cost of one instance, as the README states it.
	series, size := 0, 0
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, `name="hold"`) {
			series++
			size += len(line) + 1
		}
	}
	if series != seriesPerInstance {
		t.Errorf("%d series per instance, the README says %d", series, seriesPerInstance)
	}
	t.Logf("one instance: %d series, %d bytes of exposition", series, size)
}

// seriesPerInstance is the per-instance series count the README documents.
const seriesPerInstance = 46
