// Command bare is the baseline of meowgate's group send benchmark
// (bench/groups/run.sh): one plain whatsmeow.Client over its own modernc
// SQLite file, linked to a wasim simulator running in another process as
// an account that is already a member of the group, sends n texts to the
// group one after the other, each SendMessage waiting for the server's
// ack, as meowgate's sender does.
//
// It prints one JSON line: start of the first send → ack of the last.
package main

import (
	"github.com/meowgate/meowgate/bench/internal/barelink"

	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("wasim", "127.0.0.1:7070", "simulator address")
	dbPath := flag.String("db", "bare.db", "SQLite file for the device store (created)")
	phone := flag.String("phone", "+4915900000001", "phone number of the linked account (a group member)")
	group := flag.String("group", "", "the group JID")
	n := flag.Int("n", 200, "texts to send")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	gid, err := types.ParseJID(*group)
	check(err)
	cli, linkTook, err := barelink.Link(ctx, *addr, *dbPath, *phone)
	check(err)
	linkMS := linkTook.Milliseconds()
	defer cli.Disconnect()

	lat := make([]time.Duration, 0, *n)
	cpu0 := cpuTime()
	start := time.Now()
	for i := range *n {
		s := time.Now()
		msg := &waE2E.Message{Conversation: proto.String(fmt.Sprintf("group benchmark message %06d", i))}
		if _, err := cli.SendMessage(ctx, gid, msg); err != nil {
			check(fmt.Errorf("send %d: %w", i, err))
		}
		lat = append(lat, time.Since(s))
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	first := lat[0]
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	out, _ := json.Marshal(map[string]any{
		"n": *n, "ms": took.Milliseconds(), "msgs_per_s": float64(*n) / took.Seconds(), "link_ms": linkMS,
		"first_sent_ms": first.Milliseconds(), "drain_msgs_per_s": float64(*n-1) / (took - first).Seconds(),
		"cpu_ms_per_msg": ms(cpu) / float64(*n), "send_p50_ms": ms(lat[len(lat)/2]), "send_p99_ms": ms(lat[len(lat)*99/100]),
	})
	fmt.Println(string(out))
}

// cpuTime is the user + system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
