// Command grload sets up and drives meowgate's group benchmarks
// (bench/groups/run.sh). Each subcommand prints one JSON line:
//
//	grload contacts -wasim A -prefix P -n 49 -devices 1
//	    give contacts P0001…P00nn extra devices (AddContactDevice)
//	grload groups -wasim A -count 20 -contacts P -nc 5 [-phones Q -np 100] [-member +X]
//	    contact P0001 creates count groups whose members are the other
//	    contacts, the accounts Q00000000…Q(np-1) and -member
//	grload send -url U -name N -group J -n 200
//	    POST n texts to the group (8 posters) and follow the event log
//	    until all are sent: first POST → last message.sent
//	grload inbox -wasim A -phone C -group J -want 200
//	    wait until contact C's phone decrypted want messages of the group
//	grload fetch -url U -prefix NAME -n 100 -want 20
//	    GET …/groups once for instances NAME-0…NAME-(n-1); each must list
//	    at least want groups
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/bench/internal/pool"
	"github.com/meowgate/meowgate/client"
	"github.com/meowgate/meowgate/wasim"
)

var ctx = context.Background()

func main() {
	if len(os.Args) < 2 {
		fail("usage: grload contacts|groups|send|inbox|fetch [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	addr := fs.String("wasim", "127.0.0.1:7070", "simulator address")
	base := fs.String("url", "http://127.0.0.1:8080", "meowgate base URL")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	var run func() map[string]any
	switch cmd {
	case "contacts":
		prefix := fs.String("prefix", "+491720", "contacts are PREFIX + 4 digits, from 0001")
		n := fs.Int("n", 49, "contacts")
		devices := fs.Int("devices", 1, "extra devices per contact")
		run = func() map[string]any { return contacts(wasim.Remote(*addr), *prefix, *n, *devices) }
	case "groups":
		count := fs.Int("count", 1, "groups to create")
		cprefix := fs.String("contacts", "+491720", "contacts PREFIX + 4 digits; the first owns the groups")
		nc := fs.Int("nc", 5, "contacts in each group (the owner included)")
		pprefix := fs.String("phones", "", "accounts PREFIX + 8 digits, from 0")
		np := fs.Int("np", 0, "accounts in each group")
		member := fs.String("member", "", "one more member (+E164)")
		subject := fs.String("subject", "bench group", "subject (the group's number is appended)")
		run = func() map[string]any {
			return groups(wasim.Remote(*addr), *count, *cprefix, *nc, *pprefix, *np, *member, *subject)
		}
	case "send":
		name := fs.String("name", "g", "instance (linked, connected)")
		group := fs.String("group", "", "group JID")
		n := fs.Int("n", 200, "texts")
		c := fs.Int("c", 8, "concurrent posters")
		run = func() map[string]any { return send(mgClient(*base), *name, *group, *n, *c) }
	case "inbox":
		phone := fs.String("phone", "", "contact")
		group := fs.String("group", "", "group JID")
		want := fs.Int("want", 1, "messages of the group")
		run = func() map[string]any { return inbox(wasim.Remote(*addr), *phone, *group, *want) }
	case "fetch":
		prefix := fs.String("prefix", "g", "instance names PREFIX-i")
		n := fs.Int("n", 100, "instances")
		want := fs.Int("want", 20, "groups each must list")
		c := fs.Int("c", 8, "concurrent requests")
		run = func() map[string]any { return fetch(mgClient(*base), *prefix, *n, *want, *c) }
	default:
		fail("unknown command %q", cmd)
	}
	_ = fs.Parse(args)
	time.AfterFunc(*timeout, func() { fail("%s: timed out after %v", cmd, *timeout) })
	b, _ := json.Marshal(run())
	fmt.Println(string(b))
}

func mgClient(base string) *client.Client {
	return client.New(base, os.Getenv("MEOWGATE_API_ADMIN_KEY"))
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "grload: "+f+"\n", a...)
	os.Exit(1)
}

func contact(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i+1) }

func contacts(ctl wasim.Control, prefix string, n, devices int) map[string]any {
	t0 := time.Now()
	errs := pool.ForEach(n, 4, func(i int) error {
		for range devices {
			if _, err := ctl.AddContactDevice(ctx, contact(prefix, i)); err != nil {
				return fmt.Errorf("contact %s: %w", contact(prefix, i), err)
			}
		}
		return nil
	})
	if len(errs) > 0 {
		fail("%d of %d contacts failed; first: %v", len(errs), n, errs[0])
	}
	return map[string]any{"contacts": n, "devices_added": n * devices, "ms": time.Since(t0).Milliseconds()}
}

func groups(ctl wasim.Control, count int, cprefix string, nc int, pprefix string, np int, member, subject string) map[string]any {
	var parts []string
	for i := 1; i < nc; i++ {
		parts = append(parts, contact(cprefix, i))
	}
	for i := range np {
		parts = append(parts, fmt.Sprintf("%s%08d", pprefix, i))
	}
	if member != "" {
		parts = append(parts, member)
	}
	t0 := time.Now()
	jids := make([]string, count)
	errs := pool.ForEach(count, 4, func(i int) error {
		jid, err := ctl.CreateGroup(ctx, wasim.GroupSpec{Owner: contact(cprefix, 0), Subject: fmt.Sprintf("%s %d", subject, i+1), Participants: parts})
		jids[i] = jid.String()
		return err
	})
	if len(errs) > 0 {
		fail("%d of %d groups failed; first: %v", len(errs), count, errs[0])
	}
	return map[string]any{"groups": count, "members": len(parts) + 1, "jids": jids, "ms": time.Since(t0).Milliseconds()}
}

// send POSTs n texts to the group and follows the instance's event log
// until every one is sent (or failed, which fails the run).
func send(mg *client.Client, name, group string, n, c int) map[string]any {
	if _, err := mg.UpdateSettings(ctx, name, map[string]any{"send_delay_ms": 0, "send_jitter_ms": 0}); err != nil {
		fail("settings: %v", err)
	}
	after := lastEventID(mg, name)
	ids := make(map[string]bool, n)
	var mu sync.Mutex
	var next atomic.Int64
	first := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				m, err := mg.Send(ctx, name, client.SendRequest{To: group, Text: fmt.Sprintf("group benchmark message %06d", i)})
				if err != nil {
					fail("send %d: %v", i, err)
				}
				mu.Lock()
				ids[m.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	postTook := time.Since(first)
	var firstSent, lastSent time.Time
	sent := 0
	for sent < n {
		evs, err := mg.Events(ctx, name, strconv.FormatInt(after, 10), 1000)
		if err != nil {
			fail("events: %v", err)
		}
		for _, ev := range evs {
			after, _ = strconv.ParseInt(ev.ID, 10, 64)
			var d struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			if !ids[d.ID] {
				continue
			}
			switch {
			case ev.Type == client.EventMessageSent:
				sent++
				if firstSent.IsZero() || ev.CreatedAt.Before(firstSent) {
					firstSent = ev.CreatedAt
				}
				if ev.CreatedAt.After(lastSent) {
					lastSent = ev.CreatedAt
				}
			case ev.Type == client.EventMessageStatus && (d.Status == "failed" || d.Status == "expired" || d.Status == "canceled"):
				fail("message %s %s", d.ID, d.Status)
			}
		}
		if len(evs) < 1000 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	took := lastSent.Sub(first)
	return map[string]any{
		"n": n, "posters": c, "post_ms": postTook.Milliseconds(), "ms": took.Milliseconds(),
		"msgs_per_s": float64(n) / took.Seconds(), "first_sent_ms": firstSent.Sub(first).Milliseconds(),
		"drain_msgs_per_s": float64(n-1) / lastSent.Sub(firstSent).Seconds(),
	}
}

func lastEventID(mg *client.Client, name string) int64 {
	var after int64
	for {
		evs, err := mg.Events(ctx, name, strconv.FormatInt(after, 10), 1000)
		if err != nil {
			fail("events: %v", err)
		}
		if len(evs) == 0 {
			return after
		}
		after, _ = strconv.ParseInt(evs[len(evs)-1].ID, 10, 64)
	}
}

func inbox(ctl wasim.Control, phone, group string, want int) map[string]any {
	t0 := time.Now()
	for {
		msgs, err := ctl.Inbox(ctx, phone)
		if err != nil {
			fail("inbox %s: %v", phone, err)
		}
		got := 0
		for _, m := range msgs {
			if m.Group == group {
				got++
			}
		}
		if got >= want {
			return map[string]any{"phone": phone, "group": group, "messages": got, "waited_ms": time.Since(t0).Milliseconds()}
		}
		if time.Since(t0) > time.Minute {
			fail("inbox %s: %d of %d messages of %s", phone, got, want, group)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetch lists each instance's groups once, as a client would after
// linking.
func fetch(mg *client.Client, prefix string, n, want, c int) map[string]any {
	t0 := time.Now()
	var total atomic.Int64
	errs := pool.ForEach(n, c, func(i int) error {
		var out struct {
			Groups []json.RawMessage `json:"groups"`
		}
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := mg.Do(ctx, http.MethodGet, "/v1/instances/"+url.PathEscape(name)+"/groups", nil, &out); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(out.Groups) < want {
			return fmt.Errorf("%s: %d groups, want %d", name, len(out.Groups), want)
		}
		total.Add(int64(len(out.Groups)))
		return nil
	})
	if len(errs) > 0 {
		fail("%d of %d instances failed; first: %v", len(errs), n, errs[0])
	}
	return map[string]any{"instances": n, "groups_listed": total.Load(), "ms": time.Since(t0).Milliseconds(),
		"prefix": strings.TrimSpace(prefix)}
}
