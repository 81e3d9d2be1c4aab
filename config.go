package main

import (
	"bytes"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meowgate/meowgate/instance"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// envPrefix starts the environment variable of every config key:
// MEOWGATE_<SECTION>_<KEY>, e.g. MEOWGATE_SERVER_LISTEN.
const envPrefix = "MEOWGATE_"

// MinAdminKeyLen is the shortest admin key accepted: the key guards every
// instance, and the API may listen beyond loopback.
const MinAdminKeyLen = 24

// adminKeyFileName is the generated admin key inside the state directory.
const adminKeyFileName = "admin.key"

// Values of api.metrics.
const (
	MetricsAdmin    = "admin"    // GET /metrics needs the admin key
	MetricsLoopback = "loopback" // open to loopback clients, admin key elsewhere
	MetricsOff      = "off"      // no /metrics route
)

// Config is the whole server configuration. Every leaf has a TOML key
// (section.key) and an environment variable (MEOWGATE_SECTION_KEY).
type Config struct {
	Server   ServerConfig   `toml:"server"`
	API      APIConfig      `toml:"api"`
	Store    StoreConfig    `toml:"store"`
	WhatsApp WhatsAppConfig `toml:"whatsapp"`
	Webhook  WebhookConfig  `toml:"webhook"`
	Log      LogConfig      `toml:"log"`
	Sandbox  SandboxConfig  `toml:"sandbox"`

	// origin says where a key's value came from ("file:line" or the
	// environment variable), so Validate can point at it.
	origin map[string]string
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Listen            string   `toml:"listen"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`
	MaxBodyBytes      int64    `toml:"max_body_bytes"`
}

// APIConfig is authentication, rate limiting and metrics access.
type APIConfig struct {
	AdminKey        string  `toml:"admin_key"`
	AdminKeyFile    string  `toml:"admin_key_file"`
	RateLimit       float64 `toml:"rate_limit"` // requests per second per key
	RateBurst       int     `toml:"rate_burst"`
	CreatePerMinute int     `toml:"create_per_minute"`
	Metrics         string  `toml:"metrics"`
}

// StoreConfig is the SQLite database.
type StoreConfig struct {
	Path      string `toml:"path"`
	MinFreeMB int64  `toml:"min_free_mb"` // refuse new work below this much free disk; 0 = off
	// Init is serve --init, deliberately not a key: a setting would keep
	// the missing-database guard (dbguard.go) off on every restart.
	Init bool `toml:"-"`
}

// WhatsAppConfig is what the gateway shows to WhatsApp, and the settings a
// new instance starts with.
type WhatsAppConfig struct {
	DeviceName string   `toml:"device_name"`
	Defaults   Settings `toml:"defaults"`
}

// WebhookConfig is the delivery worker.
type WebhookConfig struct {
	Timeout     Duration `toml:"timeout"`
	RetryWindow Duration `toml:"retry_window"`
	MaxBackoff  Duration `toml:"max_backoff"`
}

// LogConfig is the process log.
type LogConfig struct {
	Level          string `toml:"level"`
	Format         string `toml:"format"`
	WhatsmeowLevel string `toml:"whatsmeow_level"`
}

// SandboxConfig runs the gateway against the WhatsApp simulator.
type SandboxConfig struct {
	Enabled bool   `toml:"enabled"`
	Addr    string `toml:"addr"` // "" = in-process simulator, else host:port of a wasim server
}

// Settings are the per-instance behaviour switches; the instance package
// owns them, the config file only supplies defaults for new instances.
type Settings = instance.Settings

// DefaultSettings returns the settings of design.md's Settings table.
func DefaultSettings() Settings { return instance.DefaultSettings() }

// Duration is a time.Duration written as a string ("30s", "24h") in TOML
// and in the environment. It is a struct, not a named int64, so that a bare
// number such as `timeout = 30` is an error instead of 30 nanoseconds.
type Duration struct {
	time.Duration
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"5m\", got %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the shortest form: "24h", not "24h0m0s".
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is the shortest form of the duration: "24h", not "24h0m0s".
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func seconds(n int) Duration { return Duration{time.Duration(n) * time.Second} }

// DefaultConfig returns the configuration used when nothing is set.
// getenv is only consulted for STATE_DIRECTORY, which systemd sets from the
// unit's StateDirectory=.
func DefaultConfig(getenv func(string) string) *Config {
	return &Config{
		Server: ServerConfig{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: seconds(5),
			ReadTimeout:       seconds(30),
			WriteTimeout:      seconds(60),
			IdleTimeout:       seconds(120),
			ShutdownTimeout:   seconds(15),
			MaxBodyBytes:      1 << 20,
		},
		API: APIConfig{
			RateLimit:       50,
			RateBurst:       100,
			CreatePerMinute: 5,
			Metrics:         MetricsAdmin,
		},
		Store:    StoreConfig{Path: defaultStorePath(getenv), MinFreeMB: 64},
		WhatsApp: WhatsAppConfig{DeviceName: "meowgate", Defaults: DefaultSettings()},
		Webhook: WebhookConfig{
			Timeout:     seconds(10),
			RetryWindow: seconds(24 * 3600),
			MaxBackoff:  seconds(5 * 60),
		},
		Log: LogConfig{Level: "info", Format: "text", WhatsmeowLevel: "warn"},
	}
}

func defaultStorePath(getenv func(string) string) string {
	// systemd joins several StateDirectory= entries with ':'; ours is the first.
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return filepath.Join(dir, "meowgate.db")
	}
	return filepath.Join("data", "meowgate.db")
}

// StateDir is the directory of the database, which also holds admin.key.
func (c *Config) StateDir() string {
	return filepath.Dir(c.Store.Path)
}

// LoadConfig builds the configuration from the defaults, then the TOML file
// at path (none if path is ""; a missing file is an error), then the
// MEOWGATE_* environment variables read through getenv. It does not
// validate: the caller applies its flags and then calls Validate.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := DefaultConfig(getenv)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeConfig(path, data, cfg); err != nil {
			return nil, err
		}
		cfg.origin = map[string]string{}
		walkKeys(data, func(key string, line int, _ *unstable.Node, _ *unstable.Parser) bool {
			cfg.origin[key] = fmt.Sprintf("%s:%d", path, line)
			return false
		})
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeConfig decodes data strictly into cfg, turning go-toml's errors into
// "file:line: key: problem" lines.
func decodeConfig(name string, data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}

	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			line, _ := e.Position()
			key := strings.Join(e.Key(), ".")
			what := "key"
			if strings.HasSuffix(e.Error(), "missing table") {
				what = "table"
			}
			msg := fmt.Sprintf("%s:%d: unknown %s %q", name, line, what, key)
			if s := suggestKey(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, errors.New(msg))
		}
		return errors.Join(errs...)
	}

	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := friendlyTypeError(strings.TrimPrefix(de.Error(), "toml: "))
		// Some messages name the key already ("key listen is already defined").
		if key := strings.Join(de.Key(), "."); key != "" && !strings.HasPrefix(msg, "key ") {
			return fmt.Errorf("%s:%d: %s: %s", name, line, key, msg)
		}
		return fmt.Errorf("%s:%d: %s", name, line, msg)
	}

	// go-toml passes a non-string value to Duration.UnmarshalText without
	// saying where it was; find the offending key ourselves.
	if key, line, got, ok := findNonStringDuration(data); ok {
		return fmt.Errorf("%s:%d: %s: want a duration string such as \"30s\", got %s", name, line, key, got)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// friendlyTypeError rewrites go-toml's type mismatch, which names Go types,
// into TOML terms.
func friendlyTypeError(msg string) string {
	// The message is "cannot decode TOML <kind> into <target> of type <T>".
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	i := strings.LastIndex(rest, " of type ")
	if !ok || i < 0 {
		return msg
	}
	got, _, _ := strings.Cut(rest, " ")
	want := "a table"
	switch rest[i+len(" of type "):] {
	case "string":
		want = "a string"
	case "bool":
		want = "true or false"
	case "int", "int64", "int32":
		want = "an integer"
	case "float64", "float32":
		want = "a number"
	case reflect.TypeFor[Duration]().String():
		want = `a duration string such as "30s"`
	}
	return fmt.Sprintf("want %s, got a TOML %s", want, got)
}

// findNonStringDuration returns the first key of a Duration field whose value
// in the document is not a string.
func findNonStringDuration(data []byte) (key string, line int, got string, ok bool) {
	durations := map[string]bool{}
	for _, k := range configKeys() {
		if k.typ == reflect.TypeFor[Duration]() {
			durations[k.name()] = true
		}
	}
	walkKeys(data, func(k string, l int, v *unstable.Node, p *unstable.Parser) bool {
		if !durations[k] || v.Kind == unstable.String {
			return false
		}
		key, line, ok = k, l, true
		got = strings.ToLower(v.Kind.String()) + " " + string(p.Raw(v.Raw))
		return true
	})
	return key, line, got, ok
}

// walkKeys calls fn with every key-value of a TOML document (dotted key,
// line, value; inline tables descended into) until fn returns true.
func walkKeys(data []byte, fn func(key string, line int, v *unstable.Node, p *unstable.Parser) bool) {
	var p unstable.Parser
	p.Reset(data)
	var visit func(prefix []string, kv *unstable.Node) bool
	visit = func(prefix []string, kv *unstable.Node) bool {
		path := append(append([]string(nil), prefix...), keyParts(kv)...)
		v := kv.Value()
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if it.Node().Kind == unstable.KeyValue && visit(path, it.Node()) {
					return true
				}
			}
			return false
		}
		it := kv.Key()
		it.Next()
		return fn(strings.Join(path, "."), p.Shape(it.Node().Raw).Start.Line, v, &p)
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e)
		case unstable.KeyValue:
			if visit(table, e) {
				return
			}
		}
	}
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	for it := n.Key(); it.Next(); {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// suggestKey returns the known key or section closest to an unknown one, if
// it is close enough to be a typo.
func suggestKey(unknown string) string {
	// Longer names tolerate more typos: 2 edits for "listn", 3 for "send_delay".
	last := unknown[strings.LastIndexByte(unknown, '.')+1:]
	best, bestDist := "", 2+len(last)/4
	seen := map[string]bool{}
	for _, k := range configKeys() {
		for i := range k.path {
			cand := strings.Join(k.path[:i+1], ".")
			if seen[cand] {
				continue
			}
			seen[cand] = true
			if d := editDistance(unknown, cand); d < bestDist {
				best, bestDist = cand, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configKey is one leaf of the Config tree.
type configKey struct {
	path  []string // TOML key parts, e.g. ["whatsapp", "defaults", "send_delay_ms"]
	index []int    // for reflect.Value.FieldByIndex
	typ   reflect.Type
}

// name is the dotted TOML key path.
func (k configKey) name() string { return strings.Join(k.path, ".") }

// envName is the environment variable that overrides the key.
func (k configKey) envName() string {
	return envPrefix + strings.ToUpper(strings.Join(k.path, "_"))
}

// configKeys lists every leaf of Config in declaration order.
func configKeys() []configKey {
	return leafKeys(reflect.TypeFor[Config](), nil, nil)
}

func leafKeys(t reflect.Type, path []string, index []int) []configKey {
	var keys []configKey
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		p := append(append([]string(nil), path...), tag)
		idx := append(append([]int(nil), index...), i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			keys = append(keys, leafKeys(f.Type, p, idx)...)
			continue
		}
		keys = append(keys, configKey{path: p, index: idx, typ: f.Type})
	}
	return keys
}

// applyEnv overrides c with every MEOWGATE_* variable that is set and not
// empty. An empty variable counts as unset.
func (c *Config) applyEnv(getenv func(string) string) error {
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, k := range configKeys() {
		name := k.envName()
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setFromString(root.FieldByIndex(k.index), raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if c.origin == nil {
			c.origin = map[string]string{}
		}
		c.origin[k.name()] = "$" + name
	}
	// api.admin_key_file is the _FILE form of api.admin_key (its variable is
	// MEOWGATE_API_ADMIN_KEY_FILE), so whichever of the two the environment
	// sets replaces both values from the file. Both set is left to Validate.
	keyEnv := getenv(envPrefix+"API_ADMIN_KEY") != ""
	fileEnv := getenv(envPrefix+"API_ADMIN_KEY_FILE") != ""
	if keyEnv && !fileEnv {
		c.API.AdminKeyFile = ""
	}
	if fileEnv && !keyEnv {
		c.API.AdminKey = ""
	}
	return errors.Join(errs...)
}

// setFromString parses s into the leaf v.
func setFromString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported config type %s", v.Type())
	}
	return nil
}

// Validate reports every bad value at once, one "key: problem" per line.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		msg := fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...))
		if o := c.origin[key]; o != "" {
			msg = o + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "must be one of %s", strings.Join(allowed, ", "))
	}
	positive := func(key string, d Duration) {
		if d.Duration <= 0 {
			bad(key, "must be a positive duration")
		}
	}
	notNegative := func(key string, d Duration) {
		if d.Duration < 0 {
			bad(key, "must not be negative (0 disables)")
		}
	}

	s := c.Server
	if err := checkHostPort(s.Listen); err != nil {
		bad("server.listen", "%v", err)
	}
	positive("server.read_header_timeout", s.ReadHeaderTimeout)
	notNegative("server.read_timeout", s.ReadTimeout)
	notNegative("server.write_timeout", s.WriteTimeout)
	notNegative("server.idle_timeout", s.IdleTimeout)
	positive("server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxBodyBytes <= 0 {
		bad("server.max_body_bytes", "must be positive")
	}

	a := c.API
	if a.AdminKey != "" && a.AdminKeyFile != "" {
		bad("api.admin_key_file", "set either api.admin_key or api.admin_key_file, not both")
	} else if a.AdminKeyFile != "" {
		if key, err := readKeyFile(a.AdminKeyFile); err != nil {
			bad("api.admin_key_file", "%v", err)
		} else if len(key) < MinAdminKeyLen {
			bad("api.admin_key_file", "the key in %s must be at least %d characters (it has %d); e.g. openssl rand -hex 32", a.AdminKeyFile, MinAdminKeyLen, len(key))
		}
	} else if a.AdminKey != "" && len(a.AdminKey) < MinAdminKeyLen {
		bad("api.admin_key", "must be at least %d characters (it has %d); e.g. openssl rand -hex 32", MinAdminKeyLen, len(a.AdminKey))
	}
	if !(a.RateLimit > 0) || math.IsInf(a.RateLimit, 1) { // NaN compares false with everything
		bad("api.rate_limit", "must be positive")
	}
	if a.RateBurst < 1 {
		bad("api.rate_burst", "must be at least 1")
	}
	if a.CreatePerMinute < 1 {
		bad("api.create_per_minute", "must be at least 1")
	}
	oneOf("api.metrics", a.Metrics, MetricsAdmin, MetricsLoopback, MetricsOff)

	if c.Store.Path == "" {
		bad("store.path", "must not be empty")
	}
	if c.Store.MinFreeMB < 0 || c.Store.MinFreeMB > 1<<20 {
		bad("store.min_free_mb", "must be 0 (off) to 1048576")
	}

	if n := utf8.RuneCountInString(c.WhatsApp.DeviceName); n == 0 || n > 64 {
		bad("whatsapp.device_name", "must be 1 to 64 characters")
	}
	if p := c.WhatsApp.Defaults.Validate(); p != nil {
		// In the order of the struct, so the output is stable.
		for _, k := range configKeys() {
			if msg, ok := p[k.path[len(k.path)-1]]; ok && strings.HasPrefix(k.name(), "whatsapp.defaults.") {
				bad(k.name(), "%s", msg)
			}
		}
	}

	positive("webhook.timeout", c.Webhook.Timeout)
	positive("webhook.retry_window", c.Webhook.RetryWindow)
	if c.Webhook.MaxBackoff.Duration < time.Second {
		bad("webhook.max_backoff", "must be at least 1s")
	}

	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "must be one of debug, info, warn, error")
	}
	oneOf("log.format", c.Log.Format, "text", "json")
	if _, err := ParseLevel(c.Log.WhatsmeowLevel); err != nil {
		bad("log.whatsmeow_level", "must be one of debug, info, warn, error")
	}

	if c.Sandbox.Addr != "" {
		if err := checkHostPort(c.Sandbox.Addr); err != nil {
			bad("sandbox.addr", "%v", err)
		} else if !c.Sandbox.Enabled {
			// Ignoring it would connect the instances to the real WhatsApp.
			bad("sandbox.addr", "is set but sandbox.enabled is not true; set sandbox.enabled = true (or --sandbox), or remove sandbox.addr")
		}
	}
	return errors.Join(errs...)
}

// checkHostPort accepts "host:port", "[v6]:port" and ":port" (all interfaces).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, e.g. \"127.0.0.1:8080\" (got %q)", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535 (got %q)", port)
	}
	return nil
}

// AdminKey returns the admin key and where it came from, for the log:
// "config" (api.admin_key, from the file or the environment),
// "file <path>" (api.admin_key_file, or an existing <state dir>/admin.key), or
// "generated <path>" when none was set and a new key was just written.
func (c *Config) AdminKey() (key, source string, err error) {
	return c.adminKey(true)
}

// ExistingAdminKey is AdminKey without generating one: the CLI client reads
// the key the way the server does, but must not invent a key the server
// does not know.
func (c *Config) ExistingAdminKey() (key, source string, err error) {
	return c.adminKey(false)
}

func (c *Config) adminKey(create bool) (key, source string, err error) {
	if c.API.AdminKey != "" {
		return c.API.AdminKey, "config", nil
	}
	if p := c.API.AdminKeyFile; p != "" {
		key, err := readKeyFile(p)
		if err != nil {
			return "", "", fmt.Errorf("api.admin_key_file: %w", err)
		}
		return key, "file " + p, nil
	}
	dir := c.StateDir()
	path := filepath.Join(dir, adminKeyFileName)
	if !create {
		key, err := ReadAdminKey(dir)
		if err != nil {
			return "", "", err
		}
		return key, "file " + path, nil
	}
	key, created, err := ReadOrCreateAdminKey(dir)
	if err != nil {
		return "", "", err
	}
	if created {
		return key, "generated " + path, nil
	}
	if len(key) < MinAdminKeyLen {
		return "", "", fmt.Errorf("%s: the admin key must be at least %d characters (it has %d); delete the file to have a new one generated", path, MinAdminKeyLen, len(key))
	}
	return key, "file " + path, nil
}

// readKeyFile returns the trimmed content of a file holding one key; it is
// an error for the file to hold nothing.
func readKeyFile(path string) (string, error) {
	key, err := readTrimmed(path)
	if err == nil && key == "" {
		err = fmt.Errorf("%s is empty", path)
	}
	return key, err
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// ReadAdminKey reads <dir>/admin.key without ever creating it. A missing
// file gives an error that matches fs.ErrNotExist.
func ReadAdminKey(dir string) (string, error) {
	key, err := readKeyFile(filepath.Join(dir, adminKeyFileName))
	if err != nil {
		return "", fmt.Errorf("admin key: %w", err)
	}
	return key, nil
}

// ReadOrCreateAdminKey reads <dir>/admin.key, or, if there is none, writes a
// new random key there (32 bytes, hex; mode 0600, dir created 0700) and
// reports created.
func ReadOrCreateAdminKey(dir string) (key string, created bool, err error) {
	path := filepath.Join(dir, adminKeyFileName)
	key, err = readTrimmed(path)
	switch {
	case err == nil && key != "":
		return key, false, nil
	case err == nil:
		// An empty file (a truncated write, a stray touch) holds no key that
		// anyone can use: replace it.
		if err := os.Remove(path); err != nil {
			return "", false, fmt.Errorf("admin key: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("admin key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	key = hex.EncodeToString(b)
	won, err := writeNewFile(path, []byte(key+"\n"))
	if err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	if !won {
		// Another process created it first: use theirs.
		key, err = ReadAdminKey(dir)
		return key, false, err
	}
	return key, true, nil
}

// writeNewFile writes data to path (mode 0600) only if path does not exist,
// and never leaves a partly written file there: the content goes to a temp
// file that is then hard-linked into place. won is false if path already
// existed.
func writeNewFile(path string, data []byte) (won bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		// Some filesystems have no hard links; a rename is atomic too, at the
		// cost of losing a (very unlikely) race with another creator.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return false, err
		}
	}
	return true, nil
}
