package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/client"
)

type hookOpts struct {
	name, to, mode     string
	sends, incoming, c int
	rate               float64
	timeout            time.Duration
}

type delivery struct {
	id       int64
	typ      string
	created  time.Time
	received time.Time
}

func webhook(o hookOpts) map[string]any {
	var (
		mu       sync.Mutex
		got      []delivery
		gate     = make(chan struct{})
		gateOnce sync.Once
		held     atomic.Bool
		arrived  = make(chan struct{}, 1)
	)
	if o.mode != "burst" {
		gateOnce.Do(func() { close(gate) })
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var p struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			CreatedAt time.Time `json:"created_at"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		select {
		case <-gate:
		default:
			held.Store(true) // the head delivery waits here
			<-gate
		}
		id, _ := strconv.ParseInt(p.ID, 10, 64)
		mu.Lock()
		got = append(got, delivery{id: id, typ: p.Type, created: p.CreatedAt, received: now})
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// Settle whatever linking produced, then turn the webhook on.
	time.Sleep(500 * time.Millisecond)
	cursor := lastEventID(o.name)
	enabled := true
	if _, err := mg.UpdateInstance(ctx, o.name, client.UpdateInstanceRequest{Webhook: &client.Webhook{
		URL: "http://" + ln.Addr().String() + "/hook", Enabled: &enabled}}); err != nil {
		fail("webhook: %v", err)
	}

	// Generate: sends (3 events each) and incoming messages (1 each).
	genStart := time.Now()
	var genWG sync.WaitGroup
	var sendIDs map[string]int
	if o.sends > 0 {
		genWG.Go(func() { sendIDs, _, _ = postAll(o.name, o.to, o.sends, o.c, "webhook benchmark") })
	}
	if o.incoming > 0 {
		genWG.Go(func() { incoming(o) })
	}
	genWG.Wait()
	// Wait until the log holds every event the load makes: each send's
	// read receipt, each incoming message.
	want := 3*o.sends + o.incoming
	var total int
	deadline := time.Now().Add(o.timeout)
	after := cursor
	reads, received := 0, 0
	for reads < o.sends || received < o.incoming {
		evs := eventsAfter(o.name, after)
		for _, ev := range evs {
			after, _ = strconv.ParseInt(ev.ID, 10, 64)
			total++
			switch ev.Type {
			case client.EventMessageStatus:
				if _, st := idOf(ev); st == "read" {
					reads++
				}
			case client.EventMessageReceived:
				received++
			}
		}
		if time.Now().After(deadline) {
			fail("timeout generating: %d/%d read, %d/%d received", reads, o.sends, received, o.incoming)
		}
		if len(evs) < 1000 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	genTook := time.Since(genStart) // (to within the 50 ms poll)
	lastID := after

	// Burst: everything is in the log now, behind the held head: release it.
	var release time.Time
	if o.mode == "burst" {
		for !held.Load() {
			if time.Now().After(deadline) {
				fail("no delivery arrived")
			}
			time.Sleep(10 * time.Millisecond)
		}
		release = time.Now()
		gateOnce.Do(func() { close(gate) })
	}
	// Wait for every event up to lastID to be delivered.
	for {
		mu.Lock()
		var maxID int64
		for _, d := range got {
			maxID = max(maxID, d.id)
		}
		mu.Unlock()
		if maxID >= lastID {
			break
		}
		if time.Now().After(deadline) {
			fail("timeout: delivered up to event %d of %d", maxID, lastID)
		}
		select {
		case <-arrived:
		case <-time.After(100 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var ds []delivery
	for _, d := range got {
		if d.id > cursor && d.id <= lastID {
			ds = append(ds, d)
		}
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].received.Before(ds[b].received) })
	out := map[string]any{
		"mode": o.mode, "events": total, "expected_events": want, "delivered": len(ds),
		"sends": len(sendIDs), "incoming": o.incoming, "rate": o.rate,
		"generate_ms": genTook.Milliseconds(), "generated_per_s": float64(total) / genTook.Seconds(),
	}
	firstRecv, lastRecv := ds[0].received, ds[len(ds)-1].received
	if o.mode == "burst" {
		// Throughput of the drain: from the release to the last delivery.
		n := len(ds) - 1 // the held head is not counted
		out["drain_ms"] = lastRecv.Sub(release).Milliseconds()
		out["events_per_s"] = float64(n) / lastRecv.Sub(release).Seconds()
	} else {
		// message.status events carry the receipt's time stamp (WhatsApp's,
		// whole seconds) as created_at, so only the other events, stamped
		// by meowgate in ms as they are appended, measure latency.
		var lat []time.Duration
		for _, d := range ds {
			if d.typ != client.EventMessageStatus {
				lat = append(lat, d.received.Sub(d.created))
			}
		}
		sortDur(lat)
		out["lat_events"] = len(lat)
		out["events_per_s"] = float64(len(ds)-1) / lastRecv.Sub(firstRecv).Seconds()
		out["lat_p50_ms"], out["lat_p90_ms"], out["lat_p99_ms"], out["lat_max_ms"] = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100)
		out["deliver_span_ms"] = lastRecv.Sub(firstRecv).Milliseconds()
		out["last_delivery_after_generation_ms"] = lastRecv.Sub(genStart.Add(genTook)).Milliseconds()
	}
	// Order per instance must hold.
	inOrder := sort.SliceIsSorted(ds, func(a, b int) bool { return ds[a].id < ds[b].id })
	out["in_order"] = inOrder
	return out
}

// incoming makes simulated contacts write to the instance, at o.rate per
// second (0: as fast as o.c workers can).
func incoming(o hookOpts) {
	var tick <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		tick = t.C
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.c {
		wg.Go(func() {
			for i := range jobs {
				from := fmt.Sprintf("+4917400%06d", i%50) // 50 contacts
				if _, err := mg.SandboxIncoming(ctx, o.name, client.Incoming{From: from, Text: fmt.Sprintf("incoming %d", i)}); err != nil {
					fail("incoming: %v", err)
				}
			}
		})
	}
	for i := range o.incoming {
		if tick != nil {
			<-tick
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// ------------------------------------------------------------ strace
