package main

// The local API client commands (`meowgate instances …`, `qr`, `send`) talk
// to a running gateway through the client package, with the admin key found
// the way the server finds it (but never generated). Each command has its
// own file, cmd_*.go; this one holds what they share.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meowgate/meowgate/client"
)

const (
	// clientTimeout bounds every API request of the client commands.
	clientTimeout = 30 * time.Second

	// The package installs its config at packagedConfigPath and runs the
	// service with StateDirectory=meowgate; a shell has no STATE_DIRECTORY,
	// so the client assumes the packaged state directory when it reads the
	// packaged config.
	packagedConfigPath = "/etc/meowgate/config.toml"
	packagedStateDir   = "/var/lib/meowgate"

	exitInterrupted = 130
)

// clientFlagsUsage documents the flags every client command takes.
const clientFlagsUsage = `  --config PATH   config file (default $MEOWGATE_CONFIG, else
                  ` + packagedConfigPath + ` if it exists)
  --url BASE      API address (default http:// + server.listen)
  --key KEY       admin key (default: api.admin_key, api.admin_key_file,
                  $MEOWGATE_API_ADMIN_KEY, else <state dir>/admin.key)
`

// clientFlags are the flags every client command shares.
type clientFlags struct {
	config, url, key string
}

func newClientFlagSet(name, usage string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	flags := newFlagSet(name, stderr)
	flags.Usage = func() { fmt.Fprint(flags.Output(), usage) }
	cf := &clientFlags{}
	flags.StringVar(&cf.config, "config", defaultConfigPath(getenv), "config file")
	flags.StringVar(&cf.url, "url", "", "API base URL")
	flags.StringVar(&cf.key, "key", "", "admin key")
	return flags, cf
}

// parseInterleaved parses flags placed before, between or after the
// positional arguments ("create x --connect"), which flag.Parse alone stops
// at. Everything after "--" is positional.
func parseInterleaved(flags *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := flags.Parse(args); err != nil {
			return nil, err
		}
		rest := flags.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// parseClientArgs parses a client command's arguments. ok is false when the
// command is done: code is then its exit code (0 for --help, 2 for a bad
// flag).
func parseClientArgs(flags *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterleaved(flags, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	return pos, 0, true
}

// newClient resolves the URL and the key from the flags, reading the config
// only for what the flags leave unset.
func (cf *clientFlags) newClient(getenv func(string) string) (*client.Client, error) {
	base, key := cf.url, cf.key
	if base == "" || key == "" {
		env := getenv
		if cf.config == packagedConfigPath && getenv("STATE_DIRECTORY") == "" {
			env = func(k string) string {
				if k == "STATE_DIRECTORY" {
					return packagedStateDir
				}
				return getenv(k)
			}
		}
		cfg, err := LoadConfig(cf.config, env)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				hint := "pass --config, or --url and --key"
				if errors.Is(err, fs.ErrPermission) {
					hint = "run as root, or pass --url and --key"
				}
				return nil, fmt.Errorf("cannot read the config (%s: %v); %s", pe.Path, pe.Err, hint)
			}
			return nil, fmt.Errorf("invalid configuration:\n%v", err)
		}
		if base == "" {
			base = listenURL(cfg.Server.Listen)
		}
		if key == "" {
			k, _, err := cfg.ExistingAdminKey()
			if err != nil {
				return nil, adminKeyError(err)
			}
			key = k
		}
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad --url %q: want http://HOST:PORT", cf.url)
	}
	return client.New(base, key, client.WithHTTPClient(&http.Client{Timeout: clientTimeout})), nil
}

// listenURL is the base URL that reaches a server listening on addr: a
// wildcard address is reached on loopback.
func listenURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// adminKeyError explains why the admin key could not be read.
func adminKeyError(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return fmt.Errorf("cannot read the admin key (%v); pass --key", err)
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot read the admin key (%s: permission denied); run as root or pass --key", pe.Path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no admin key found (%s does not exist; the server writes it on first start); "+
			"pass --key, or --config with the server's configuration", pe.Path)
	}
	return fmt.Errorf("cannot read the admin key (%s: %v); pass --key", pe.Path, pe.Err)
}

// describe words a client error for the terminal: an API error as
// "code: message" with its fields, a transport error with a hint.
func describe(c *client.Client, err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s", ae.Code, ae.Message)
		if ae.State != "" {
			fmt.Fprintf(&b, " (state %s)", ae.State)
		}
		for _, k := range slices.Sorted(maps.Keys(ae.Fields)) {
			fmt.Fprintf(&b, "\n  %s: %s", k, ae.Fields[k])
		}
		return b.String()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer from %s within %s", c.BaseURL(), clientTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("cannot reach meowgate at %s (is it running? see --url): %v", c.BaseURL(), ue.Err)
	}
	return err.Error()
}

// fail prints a client error and returns the exit code: 130 if the user
// interrupted, else 1.
func fail(ctx context.Context, stderr io.Writer, c *client.Client, err error) int {
	if ctx.Err() != nil {
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "meowgate: %s\n", describe(c, err))
	return 1
}

// usageError prints a usage problem and returns 2.
func usageError(stderr io.Writer, usage, format string, args ...any) int {
	fmt.Fprintf(stderr, "meowgate: "+format+"\n\n%s", append(args, usage)...)
	return 2
}

// stateText is the state with its reason, e.g. "disconnected (qr_timeout)".
func stateText(state, reason string) string {
	switch state {
	case client.StateConnected, client.StateStarting, client.StateScanQR:
		return state
	}
	if reason == "" {
		return state
	}
	return state + " (" + reason + ")"
}

func writeJSONLine(w io.Writer, data []byte) {
	w.Write(bytes.TrimRight(data, "\n"))
	io.WriteString(w, "\n")
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
