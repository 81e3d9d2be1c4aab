// Command bare is the baseline of meowgate's end-to-end send benchmark
// (bench/messaging/run.sh): one plain whatsmeow.Client over its own modernc
// SQLite file, linked to a wasim simulator running in another process, that
// sends N texts to one contact sequentially, each SendMessage waiting for
// the server's ack, exactly as meowgate's sender does.
//
// It prints one JSON line: how long the N sends took from the start of the
// first to the ack of the last, and the rate.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/bench/internal/barelink"
	"github.com/meowgate/meowgate/wasim"
)

func main() {
	addr := flag.String("wasim", "127.0.0.1:7070", "simulator address")
	dbPath := flag.String("db", "bare.db", "SQLite file for the device store (created)")
	phone := flag.String("phone", "+4915900000001", "phone number of the linked account")
	to := flag.String("to", "+4917900000001", "the contact that receives the texts")
	n := flag.Int("n", 2000, "texts to send")
	text := flag.String("text", "benchmark message %06d from the send queue", "text (fmt, with the sequence number)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the sending phase to this file")
	mark := flag.String("mark", "", "write the time (unix seconds) to this file as sending starts, then wait -mark-wait")
	markWait := flag.Duration("mark-wait", 0, "pause after writing -mark (lets a tracer attach)")
	settle := flag.Duration("settle", 0, "stay connected this long after the last ack (receipts arrive)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	wasim.TrustRoot()

	cli, linkTook, err := barelink.Link(ctx, *addr, *dbPath, *phone)
	check(err)
	linkMS := linkTook.Milliseconds()
	defer cli.Disconnect()

	jid := types.NewJID((*to)[1:], types.DefaultUserServer)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *mark != "" {
		time.Sleep(*markWait)
		check(os.WriteFile(*mark, []byte(fmt.Sprintf("%.6f\n", float64(time.Now().UnixNano())/1e9)), 0o644))
		// And which file each descriptor is, for the strace summary.
		var fds strings.Builder
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
				fmt.Fprintf(&fds, "%s %s\n", e.Name(), target)
			}
		}
		check(os.WriteFile(*mark+".fds", []byte(fds.String()), 0o644))
	}
	lat := make([]time.Duration, 0, *n)
	start := time.Now()
	for i := range *n {
		s := time.Now()
		msg := &waE2E.Message{Conversation: proto.String(fmt.Sprintf(*text, i))}
		if _, err := cli.SendMessage(ctx, jid, msg); err != nil {
			check(fmt.Errorf("send %d: %w", i, err))
		}
		lat = append(lat, time.Since(s))
	}
	took := time.Since(start)
	time.Sleep(*settle)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	out, _ := json.Marshal(map[string]any{
		"n": *n, "ms": took.Milliseconds(), "msgs_per_s": float64(*n) / took.Seconds(), "link_ms": linkMS,
		"send_p50_ms": ms(lat[len(lat)/2]), "send_p99_ms": ms(lat[len(lat)*99/100]),
		"start": start.UTC().Format(time.RFC3339Nano),
	})
	fmt.Println(string(out))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
