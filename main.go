// Command meowgate is a self-hosted WhatsApp gateway: it links WhatsApp
// numbers through whatsmeow and serves them over a local HTTP API.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `meowgate: a self-hosted WhatsApp gateway

Usage:
  meowgate [serve] [flags]          run the gateway (default)
  meowgate version                  print the version
  meowgate check-config [--config PATH]
                                    validate the configuration and exit
  meowgate instances list [--json]  list instances
  meowgate instances create NAME [--connect] [--phone +E164] [--device-name X]
                                    create an instance (prints its token once)
  meowgate instances delete NAME    log out and delete an instance
  meowgate instances connect NAME   start an instance
  meowgate instances logout NAME    unlink an instance from its phone
  meowgate qr NAME                  show the QR code in the terminal until linked
  meowgate send NAME TO TEXT        queue a text message (--wait: until sent)

Serve flags:
  --config PATH        config file (default $MEOWGATE_CONFIG, else
                       ` + packagedConfigPath + ` if it exists)
  --listen ADDR        listen address (server.listen)
  --store PATH         database file (store.path)
  --log-level LEVEL    debug, info, warn or error (log.level)
  --sandbox            run against the built-in WhatsApp simulator
  --sandbox-addr ADDR  use a simulator running at ADDR (wasim serve)
  --init               start with a new, empty database although
                       <store>.initialized says one existed (once, after
                       the database was lost; see README)

The client commands take --config, --url and --key, and read the admin key
the way the server does (api.admin_key, api.admin_key_file,
$MEOWGATE_API_ADMIN_KEY, else <state dir>/admin.key). "meowgate qr" exits 0
once linked, 1 on an error or an expired QR code, 130 when interrupted.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "meowgate", Version())
		return 0
	case "check-config":
		return cmdCheckConfig(args, getenv, stdout, stderr)
	case "instances":
		return cmdInstances(ctx, args, getenv, stdout, stderr)
	case "qr":
		return cmdQR(ctx, args, getenv, stdout, stderr)
	case "send":
		return cmdSend(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "meowgate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// defaultConfigPath is $MEOWGATE_CONFIG, else the packaged config if present.
func defaultConfigPath(getenv func(string) string) string {
	if p := getenv("MEOWGATE_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(packagedConfigPath); err == nil {
		return packagedConfigPath
	}
	return ""
}
