// Command wasim runs the loopback WhatsApp simulator in its own process, so
// that meowgate (serve --sandbox-addr) and benchmarks can use it without
// sharing memory with it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meowgate/meowgate/wasim"
)

func main() {
	fs := flag.NewFlagSet("wasim", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:7070", "listen address (loopback)")
	db := fs.String("db", "", "state database file (empty: in memory)")
	media := fs.String("media", "", "media blob directory (empty: a temporary one)")
	delivery := fs.Duration("delivery-delay", 500*time.Millisecond, "contacts' delivery receipt delay")
	read := fs.Duration("read-delay", 1500*time.Millisecond, "contacts' read receipt delay after delivery")
	verbose := fs.Bool("v", false, "debug logging")
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	_ = fs.Parse(args)
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sim, err := wasim.New(ctx, wasim.Options{Addr: *addr, DBPath: *db, MediaDir: *media, Log: log, DeliveryDelay: *delivery, ReadDelay: *read})
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasim:", err)
		os.Exit(1)
	}
	log.Info("wasim listening", "addr", sim.Addr(), "db", *db)
	fmt.Println(sim.Addr())
	<-ctx.Done()
	sim.Close()
}
