// Command baseline is the memory baseline for meowgate's RSS benchmark: a
// bare program that links N plain whatsmeow clients, all sharing ONE modernc
// SQLite file, against a wasim simulator running in another process, then
// idles and reports its own RSS.
//
// With a database that already holds linked devices it logs those in instead
// of linking new ones (the "restart" scenario).
//
// It prints "READY <n>" on stdout once every client is connected, then, after
// -idle, one JSON line with its RSS samples; with -hold it stays up (idle)
// until SIGINT/SIGTERM, so that a harness can sample it from outside.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/bench/internal/pool"
	"github.com/meowgate/meowgate/wasim"
)

func main() {
	addr := flag.String("wasim", "127.0.0.1:7070", "simulator address")
	dbPath := flag.String("db", "baseline.db", "shared SQLite file for every client's device store")
	n := flag.Int("n", 10, "clients to link (ignored when the database already holds linked devices)")
	prefix := flag.String("phone-prefix", "+4916", "phone numbers are PREFIX + 8 digits")
	workers := flag.Int("workers", 8, "clients linking at the same time")
	idle := flag.Duration("idle", 10*time.Second, "idle time before sampling RSS")
	samples := flag.Int("samples", 5, "RSS samples (1 s apart); the median is reported")
	hold := flag.Bool("hold", false, "stay up after reporting, until SIGINT/SIGTERM")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up linking after this long")
	groups := flag.Int("groups", 0, "once connected, each client fetches its groups (GetJoinedGroups) and must be in at least this many")
	flag.Parse()
	startPprof() // only in a -tags benchpprof build (pprof.go)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wasim.TrustRoot()

	abs, err := filepath.Abs(*dbPath)
	check(err)
	db, err := sql.Open("sqlite", "file:"+abs+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	check(err)
	db.SetMaxOpenConns(1)
	container := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	check(container.Upgrade(ctx))

	devices, err := container.GetAllDevices(ctx)
	check(err)
	mode := "link"
	if len(devices) > 0 {
		mode = "login"
		*n = len(devices)
	}
	start := time.Now()
	clients := make([]*whatsmeow.Client, *n)
	ctl := wasim.Remote(*addr)
	lctx, cancel := context.WithTimeout(ctx, *timeout)
	errs := pool.ForEach(*n, *workers, func(i int) error {
		var dev *store.Device
		if mode == "login" {
			dev = devices[i]
		} else {
			dev = container.NewDevice()
		}
		cli := whatsmeow.NewClient(dev, waLog.Noop)
		wasim.Attach(cli, *addr)
		clients[i] = cli
		connected := make(chan struct{})
		var once sync.Once
		phone := fmt.Sprintf("%s%08d", *prefix, i)
		scanErr := make(chan error, 1)
		var scanned sync.Once
		cli.AddEventHandler(func(evt any) {
			switch e := evt.(type) {
			case *events.QR:
				scanned.Do(func() {
					go func() {
						_, err := ctl.Scan(lctx, e.Codes[0], phone)
						if err != nil {
							scanErr <- fmt.Errorf("client %d: scan: %w", i, err)
						}
					}()
				})
			case *events.Connected:
				once.Do(func() { close(connected) })
			}
		})
		if err := cli.Connect(); err != nil {
			return fmt.Errorf("client %d: connect: %w", i, err)
		}
		select {
		case <-connected:
			return nil
		case err := <-scanErr:
			return err
		case <-lctx.Done():
			return fmt.Errorf("client %d: not connected: %w", i, lctx.Err())
		}
	})
	cancel()
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "baseline: %d of %d clients failed; first: %v\n", len(errs), *n, errs[0])
		os.Exit(1)
	}
	took := time.Since(start)
	if *groups > 0 {
		fetchGroups(ctx, clients, *groups, *workers)
	}
	fmt.Printf("READY %d\n", *n)
	fmt.Fprintf(os.Stderr, "baseline: %d clients connected (%s) in %v\n", *n, mode, took.Round(time.Millisecond))

	select {
	case <-time.After(*idle):
	case <-ctx.Done():
		return
	}
	var rss []int
	for i := range *samples {
		if i > 0 {
			time.Sleep(time.Second)
		}
		rss = append(rss, selfRSS())
	}
	sorted := append([]int(nil), rss...)
	sort.Ints(sorted)
	out, _ := json.Marshal(map[string]any{
		"clients": *n, "mode": mode, "setup_ms": took.Milliseconds(),
		"rss_kib_samples": rss, "rss_kib_median": sorted[len(sorted)/2],
	})
	fmt.Println(string(out))
	if *hold {
		<-ctx.Done()
	}
	for _, cli := range clients {
		cli.Disconnect()
	}
	db.Close()
}

// fetchGroups has every client list its groups once, as a gateway's
// client would after linking (bench/groups/run.sh).
func fetchGroups(ctx context.Context, clients []*whatsmeow.Client, want, workers int) {
	t0 := time.Now()
	errs := pool.ForEach(len(clients), workers, func(i int) error {
		gs, err := clients[i].GetJoinedGroups(ctx)
		if err != nil {
			return fmt.Errorf("client %d: groups: %w", i, err)
		}
		if len(gs) < want {
			return fmt.Errorf("client %d: %d groups, want %d", i, len(gs), want)
		}
		return nil
	})
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "baseline: %d of %d clients failed; first: %v\n", len(errs), len(clients), errs[0])
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "baseline: %d clients fetched their groups in %v\n", len(clients), time.Since(t0).Round(time.Millisecond))
}

// selfRSS is VmRSS of this process in KiB.
func selfRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	check(err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.Atoi(strings.Fields(rest)[0])
			return v
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
