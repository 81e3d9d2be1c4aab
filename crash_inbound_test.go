package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meowgate/meowgate/wasim"
)

// Kill the real process while 5 contacts send 500 messages: WhatsApp (a
// wasim in its own process) keeps every message meowgate did not ack, so
// after a restart each one is stored and published exactly once, in the
// order each contact sent them.
func TestCrashInboundBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	sim := startSim(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	t.Setenv("MEOWGATE_API_RATE_LIMIT", "10000")
	t.Setenv("MEOWGATE_API_RATE_BURST", "10000")
	p := startBinary(t, bin, dir, addr, "--sandbox-addr", sim)
	p.call("POST", "/v1/instances", map[string]any{"name": "in", "connect": true}, 201)
	const phone = "+4915100000601"
	p.call("POST", "/v1/sandbox/instances/in/scan", map[string]any{"phone": phone}, 200)
	p.waitState("in", "connected")

	const contacts, perContact = 5, 100
	ctl := wasim.Remote(sim)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		sent = map[string]string{} // id → text
		wg   sync.WaitGroup
		errs = make(chan error, contacts)
	)
	for c := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("+49171000006%02d", c)
			for n := range perContact {
				text := fmt.Sprintf("c%d %03d", c, n)
				id, err := ctl.Incoming(ctx, from, phone, text, "")
				if err != nil {
					errs <- fmt.Errorf("%s: %w", text, err)
					return
				}
				mu.Lock()
				sent[id] = text
				mu.Unlock()
			}
		}()
	}
	inbound := func(pp *proc) []map[string]any {
		var out []map[string]any
		for _, m := range pp.call("GET", "/v1/instances/in/messages?direction=in&limit=500", nil, 200)["messages"].([]any) {
			out = append(out, m.(map[string]any))
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(inbound(p)) < 100 {
		if time.Now().After(deadline) {
			t.Fatal("the burst was not being stored")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	mu.Lock()
	killedAt := len(sent)
	mu.Unlock()
	time.Sleep(300 * time.Millisecond) // the contacts go on sending
	p2 := startBinary(t, bin, dir, addr, "--sandbox-addr", sim)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("killed after %d accepted sends", killedAt)

	var stored []map[string]any
	deadline = time.Now().Add(90 * time.Second)
	for {
		stored = inbound(p2)
		if len(stored) >= contacts*perContact {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages stored after the restart", len(stored), contacts*perContact)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Stored exactly once, in the contact's order (the list is newest first).
	perChat := map[string][]string{}
	seen := map[string]int{}
	for i := len(stored) - 1; i >= 0; i-- {
		m := stored[i]
		id, text := m["id"].(string), m["text"].(string)
		seen[id]++
		if sent[id] != text {
			t.Errorf("stored %s %q, sent %q", id, text, sent[id])
		}
		perChat[m["chat"].(string)] = append(perChat[m["chat"].(string)], text)
	}
	for id, text := range sent {
		if seen[id] != 1 {
			t.Errorf("message %s (%q) stored %d times", id, text, seen[id])
		}
	}
	checkOrder := func(what string, chats map[string][]string) {
		t.Helper()
		if len(chats) != contacts {
			t.Errorf("%s: %d chats, want %d", what, len(chats), contacts)
		}
		for chat, texts := range chats {
			for i, text := range texts {
				if n, _ := strconv.Atoi(text[strings.IndexByte(text, ' ')+1:]); n != i {
					t.Errorf("%s: chat %s: #%d is %q", what, chat, i, text)
					break
				}
			}
		}
	}
	checkOrder("stored", perChat)

	// Published exactly once, in order per chat.
	events := map[string]int{}
	evChats := map[string][]string{}
	after := "0"
	for {
		evs := p2.call("GET", "/v1/instances/in/events?limit=1000&after="+after, nil, 200)["events"].([]any)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			ev := e.(map[string]any)
			if ev["type"] == "message.received" {
				d := ev["data"].(map[string]any)
				events[d["id"].(string)]++
				evChats[d["chat"].(string)] = append(evChats[d["chat"].(string)], d["text"].(string))
			}
		}
		after = evs[len(evs)-1].(map[string]any)["id"].(string)
	}
	for id := range sent {
		if events[id] != 1 {
			t.Errorf("message %s published %d times", id, events[id])
		}
	}
	if len(events) != len(sent) {
		t.Errorf("%d message.received events, want %d", len(events), len(sent))
	}
	checkOrder("published", evChats)
}
