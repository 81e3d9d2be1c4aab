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
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/wasim"
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
	cli, linkMS := link(ctx, *addr, *dbPath, *phone)
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

func link(ctx context.Context, addr, dbPath, phone string) (*whatsmeow.Client, int64) {
	wasim.TrustRoot()
	abs, err := filepath.Abs(dbPath)
	check(err)
	db, err := sql.Open("sqlite", "file:"+abs+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	check(err)
	container := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	check(container.Upgrade(ctx))
	dev, err := container.GetFirstDevice(ctx)
	check(err)
	cli := whatsmeow.NewClient(dev, waLog.Noop)
	wasim.Attach(cli, addr)
	ctl := wasim.Remote(addr)
	connected := make(chan struct{})
	scanErr := make(chan error, 1)
	var once, scanned sync.Once
	cli.AddEventHandler(func(evt any) {
		switch e := evt.(type) {
		case *events.QR:
			scanned.Do(func() {
				go func() {
					if _, err := ctl.Scan(ctx, e.Codes[0], phone); err != nil {
						scanErr <- err
					}
				}()
			})
		case *events.Connected:
			once.Do(func() { close(connected) })
		}
	})
	t0 := time.Now()
	check(cli.Connect())
	select {
	case <-connected:
	case err := <-scanErr:
		check(fmt.Errorf("scan: %w", err))
	case <-ctx.Done():
		check(fmt.Errorf("not connected: %w", ctx.Err()))
	}
	return cli, time.Since(t0).Milliseconds()
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
