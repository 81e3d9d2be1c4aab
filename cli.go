package main

// The local API client: `meowgate instances …` and `meowgate qr NAME` talk
// to a running gateway over its HTTP API, with the admin key found the way
// the server finds it (but never generated).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	// clientTimeout bounds every API request of the client commands.
	clientTimeout = 30 * time.Second
	// qrPollInterval is how often `meowgate qr` looks at the instance.
	qrPollInterval = time.Second

	// The package installs its config here and runs the service with
	// StateDirectory=meowgate; a shell has no STATE_DIRECTORY, so the client
	// assumes the packaged state directory when it reads the packaged config.
	packagedConfigPath = "/etc/meowgate/config.toml"
	packagedStateDir   = "/var/lib/meowgate"

	exitInterrupted = 130
)

const instancesUsage = `Usage:
  meowgate instances list [--json]
  meowgate instances create NAME [--connect] [--phone +E164] [--device-name X] [--json]
  meowgate instances delete NAME
  meowgate instances connect NAME [--json]
  meowgate instances logout NAME [--json]

Every command also takes:
  --config PATH   config file (default $MEOWGATE_CONFIG, else
                  /etc/meowgate/config.toml if it exists)
  --url BASE      API address (default http:// + server.listen)
  --key KEY       admin key (default: api.admin_key, api.admin_key_file,
                  $MEOWGATE_API_ADMIN_KEY, else <state dir>/admin.key)
`

const qrUsage = `Usage:
  meowgate qr NAME [--config PATH] [--url BASE] [--key KEY]

Starts the instance if needed and draws its QR code in the terminal, redrawn
whenever it changes, until a phone has scanned it.
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

// client calls the gateway's API with the admin key.
type client struct {
	base string
	key  string
	http *http.Client
}

// newClient resolves the URL and the key from the flags, reading the config
// only for what the flags leave unset.
func (cf *clientFlags) newClient(getenv func(string) string) (*client, error) {
	c := &client{base: cf.url, key: cf.key, http: &http.Client{Timeout: clientTimeout}}
	if c.base == "" || c.key == "" {
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
		if c.base == "" {
			c.base = listenURL(cfg.Server.Listen)
		}
		if c.key == "" {
			key, _, err := cfg.ExistingAdminKey()
			if err != nil {
				return nil, adminKeyError(err)
			}
			c.key = key
		}
	}
	if !strings.Contains(c.base, "://") {
		c.base = "http://" + c.base
	}
	c.base = strings.TrimRight(c.base, "/")
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad --url %q: want http://HOST:PORT", cf.url)
	}
	return c, nil
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

// apiError is the API's error body {"error":{…}}.
type apiError struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
	State   string            `json:"state"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	if e.State != "" {
		fmt.Fprintf(&b, " (state %s)", e.State)
	}
	for k, v := range e.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", k, v)
	}
	return b.String()
}

// isAPIError reports whether err is an API error with the code.
func isAPIError(err error, code string) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == code
}

// do sends a request and returns the response body of a 2xx answer; out, if
// set, receives the decoded JSON.
func (c *client) do(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("no answer from %s within %s", c.base, clientTimeout)
		}
		return nil, fmt.Errorf("cannot reach meowgate at %s (is it running? see --url): %v", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			eb.Error.Status = resp.StatusCode
			return nil, eb.Error
		}
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return nil, &apiError{Status: resp.StatusCode, Code: fmt.Sprintf("http_%d", resp.StatusCode), Message: cmp.Or(msg, resp.Status)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return data, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// instanceView is the part of the instance object the client shows.
type instanceView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Phone  string `json:"phone"`
	JID    string `json:"jid"`
}

// stateText is the state with its reason, e.g. "disconnected (qr_timeout)".
func (v *instanceView) stateText() string {
	if v.Reason == "" || v.State == "connected" || v.State == "starting" || v.State == "scan_qr" {
		return v.State
	}
	return v.State + " (" + v.Reason + ")"
}

func instancePath(name string, rest ...string) string {
	return "/v1/instances/" + url.PathEscape(name) + strings.Join(rest, "")
}

// fail prints a client error and returns the exit code: 130 if the user
// interrupted, else 1.
func fail(ctx context.Context, stderr io.Writer, err error) int {
	if ctx.Err() != nil {
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "meowgate: %v\n", err)
	return 1
}

// usageError prints a usage problem and returns 2.
func usageError(stderr io.Writer, usage, format string, args ...any) int {
	fmt.Fprintf(stderr, "meowgate: "+format+"\n\n%s", append(args, usage)...)
	return 2
}

func cmdInstances(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	flags, cf := newClientFlagSet("instances "+sub, instancesUsage, getenv, stderr)
	var asJSON, connect bool
	var phone, deviceName string
	switch sub {
	case "list", "connect", "logout":
		flags.BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	case "create":
		flags.BoolVar(&asJSON, "json", false, "print the API's JSON answer")
		flags.BoolVar(&connect, "connect", false, "start the instance at once")
		flags.StringVar(&phone, "phone", "", "phone number (+E164)")
		flags.StringVar(&deviceName, "device-name", "", "device name shown on the phone")
	case "delete":
	case "help":
		fmt.Fprint(stdout, instancesUsage)
		return 0
	default:
		return usageError(stderr, instancesUsage, "unknown command \"instances %s\"", sub)
	}
	pos, err := parseInterleaved(flags, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		if want == 0 {
			return usageError(stderr, instancesUsage, "instances list takes no arguments")
		}
		return usageError(stderr, instancesUsage, "instances %s needs exactly one NAME", sub)
	}
	c, err := cf.newClient(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 1
	}

	switch sub {
	case "list":
		var resp struct {
			Instances []instanceView `json:"instances"`
		}
		data, err := c.do(ctx, "GET", "/v1/instances", nil, &resp)
		if err != nil {
			return fail(ctx, stderr, err)
		}
		if asJSON {
			writeJSONLine(stdout, data)
			return 0
		}
		if len(resp.Instances) == 0 {
			fmt.Fprintln(stdout, "no instances; create one with: meowgate instances create NAME")
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tPHONE")
		for _, in := range resp.Instances {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", in.Name, in.stateText(), cmp.Or(in.Phone, "-"))
		}
		tw.Flush()
		return 0

	case "create":
		name := pos[0]
		body := map[string]any{"name": name}
		if connect {
			body["connect"] = true
		}
		if phone != "" {
			body["phone"] = phone
		}
		if deviceName != "" {
			body["device_name"] = deviceName
		}
		var resp struct {
			Instance instanceView `json:"instance"`
			Token    string       `json:"token"`
		}
		data, err := c.do(ctx, "POST", "/v1/instances", body, &resp)
		if err != nil {
			return fail(ctx, stderr, err)
		}
		if asJSON {
			writeJSONLine(stdout, data)
			return 0
		}
		in := resp.Instance
		fmt.Fprintf(stdout, "created instance %s (id %s, state %s)\n", in.Name, in.ID, in.stateText())
		fmt.Fprintf(stdout, "token: %s\n", resp.Token)
		fmt.Fprintln(stdout, "The token is shown only this once: it gives access to this instance's routes. Keep it safe.")
		if connect {
			fmt.Fprintf(stdout, "To link a phone, run: meowgate qr %s\n", in.Name)
		}
		return 0

	case "delete":
		if _, err := c.do(ctx, "DELETE", instancePath(pos[0]), nil, nil); err != nil {
			return fail(ctx, stderr, err)
		}
		fmt.Fprintf(stdout, "%s: deleted\n", pos[0])
		return 0

	default: // connect, logout
		var resp struct {
			Instance instanceView `json:"instance"`
		}
		data, err := c.do(ctx, "POST", instancePath(pos[0], "/"+sub), nil, &resp)
		if err != nil {
			return fail(ctx, stderr, err)
		}
		if asJSON {
			writeJSONLine(stdout, data)
			return 0
		}
		in := resp.Instance
		fmt.Fprintf(stdout, "%s: %s\n", in.Name, in.stateText())
		if sub == "connect" && in.JID == "" {
			fmt.Fprintf(stdout, "To link a phone, run: meowgate qr %s\n", in.Name)
		}
		return 0
	}
}

func writeJSONLine(w io.Writer, data []byte) {
	w.Write(bytes.TrimRight(data, "\n"))
	io.WriteString(w, "\n")
}

// stateView is the body of GET …/state.
type stateView struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Phone  string `json:"phone"`
	JID    string `json:"jid"`
}

func cmdQR(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, cf := newClientFlagSet("qr", qrUsage, getenv, stderr)
	pos, err := parseInterleaved(flags, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		return usageError(stderr, qrUsage, "qr needs exactly one NAME")
	}
	name := pos[0]
	c, err := cf.newClient(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 1
	}

	getState := func() (*stateView, error) {
		var st stateView
		_, err := c.do(ctx, "GET", instancePath(name, "/state"), nil, &st)
		return &st, err
	}
	st, err := getState()
	if err != nil {
		return fail(ctx, stderr, err)
	}
	switch st.State {
	case "connected":
		fmt.Fprintf(stdout, "%s is connected as %s\n", name, phoneOrJID(st))
		return 0
	case "starting", "scan_qr":
	default:
		_, err := c.do(ctx, "POST", instancePath(name, "/connect"), nil, nil)
		if err != nil && !isAPIError(err, "already_connected") {
			return fail(ctx, stderr, err)
		}
	}

	tty := isTerminal(stdout)
	var shown string // the QR drawing on screen
	ticker := time.NewTicker(qrPollInterval)
	defer ticker.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return exitInterrupted
			case <-ticker.C:
			}
		}
		st, err := getState()
		if err != nil {
			return fail(ctx, stderr, err)
		}
		switch st.State {
		case "connected":
			fmt.Fprintf(stdout, "linked as %s (%s)\n", cmp.Or(st.Phone, "?"), st.JID)
			return 0
		case "logged_out", "failed", "created":
			fmt.Fprintf(stderr, "meowgate: %s is %s (%s); run meowgate qr %s to try again\n", name, st.State, cmp.Or(st.Reason, "no reason given"), name)
			return 1
		case "disconnected":
			switch st.Reason {
			case "qr_timeout":
				fmt.Fprintf(stderr, "meowgate: the QR code expired; run meowgate qr %s again\n", name)
				return 1
			case "user_request":
				fmt.Fprintf(stderr, "meowgate: %s was disconnected; run meowgate qr %s again\n", name, name)
				return 1
			}
			// Otherwise it is reconnecting by itself: wait.
		case "scan_qr":
			text, err := c.do(ctx, "GET", instancePath(name, "/qr?format=text"), nil, nil)
			if isAPIError(err, "not_awaiting_qr") {
				continue // the state moved on since; look again
			}
			if err != nil {
				return fail(ctx, stderr, err)
			}
			if string(text) == shown {
				continue
			}
			var qr struct {
				ExpiresAt time.Time `json:"expires_at"`
			}
			if _, err := c.do(ctx, "GET", instancePath(name, "/qr"), nil, &qr); err != nil && !isAPIError(err, "not_awaiting_qr") {
				return fail(ctx, stderr, err)
			}
			if tty {
				io.WriteString(stdout, "\x1b[H\x1b[2J")
			} else if shown != "" {
				io.WriteString(stdout, "\n")
			}
			shown = string(text)
			io.WriteString(stdout, shown)
			if !strings.HasSuffix(shown, "\n") {
				io.WriteString(stdout, "\n")
			}
			expires := ""
			if !qr.ExpiresAt.IsZero() {
				expires = fmt.Sprintf(" (expires in %ds)", max(0, int(time.Until(qr.ExpiresAt).Round(time.Second)/time.Second)))
			}
			fmt.Fprintf(stdout, "Scan with WhatsApp → Linked devices → Link a device%s\n", expires)
		}
	}
}

func phoneOrJID(st *stateView) string {
	if st.Phone != "" {
		return st.Phone
	}
	return st.JID
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
