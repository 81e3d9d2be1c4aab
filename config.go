package main

import (
	"encoding"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/instance"
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
	Console  ConsoleConfig  `toml:"console"`
	Media    MediaConfig    `toml:"media"`
	Compat   CompatConfig   `toml:"compat"`

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
	DeviceName string `toml:"device_name"`
	// ClientVersion is the WhatsApp Web version to log in with: "auto"
	// (fetched at start, daily and when WhatsApp refuses the client),
	// "off" (whatsmeow's compiled-in one) or a pinned "2.3000.N".
	ClientVersion string `toml:"client_version"`
	// RestrictedBackoff is how long first contacts wait after WhatsApp
	// refused one (error 463).
	RestrictedBackoff Duration `toml:"restricted_backoff"`
	// KeepaliveTimeout bounds how long a connection whose server stopped
	// answering still shows "connected" (instance/deaf.go).
	KeepaliveTimeout Duration `toml:"keepalive_timeout"`
	Defaults         Settings `toml:"defaults"`
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

// ConsoleConfig is the web console served at /.
type ConsoleConfig struct {
	Enabled bool `toml:"enabled"`
}

// CompatConfig switches on other APIs' wire formats over the same
// instances (docs/evolution.md).
type CompatConfig struct {
	Evolution       bool   `toml:"evolution"`        // Evolution API v2 routes
	EvolutionPrefix string `toml:"evolution_prefix"` // "" = Evolution's root paths, else e.g. "/evolution"
}

// MediaConfig is where media files live and how large they may be.
type MediaConfig struct {
	Dir          string   `toml:"dir"`           // "" = "media" next to the database
	Retention    Duration `toml:"retention"`     // files of older messages are removed; 0 keeps them
	FetchTimeout Duration `toml:"fetch_timeout"` // fetching a media url of a message being sent
	MaxUploadMB  int64    `toml:"max_upload_mb"` // the largest file a message may carry
	// IncludeMediaMaxMB caps the files a webhook with include_media
	// carries inline (base64); larger ones are only linked.
	IncludeMediaMaxMB int64 `toml:"include_media_max_mb"`
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

// UnmarshalText parses a Go duration string, which may start with whole
// days ("30d", "1d12h"): retention periods are counted in days.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", \"5m\" or \"30d\", got %q", b)
	}
	d.Duration = v
	return nil
}

// parseDuration is time.ParseDuration with an optional leading "<n>d".
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok || days == "" || strings.Trim(days, "0123456789") != "" {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseInt(days, 10, 64)
	const maxDays = int64(math.MaxInt64 / int64(24*time.Hour))
	if err != nil || n > maxDays {
		return 0, fmt.Errorf("duration %q: too many days", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || r > math.MaxInt64-d {
			return 0, fmt.Errorf("duration %q: bad part after the days", s)
		}
		d += r
	}
	return d, nil
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
		Store: StoreConfig{Path: defaultStorePath(getenv), MinFreeMB: 64},
		WhatsApp: WhatsAppConfig{DeviceName: "meowgate", ClientVersion: instance.ClientVersionAuto,
			RestrictedBackoff: Duration{24 * time.Hour}, KeepaliveTimeout: Duration{instance.DefaultKeepaliveTimeout},
			Defaults: DefaultSettings()},
		API: APIConfig{
			RateLimit:       50,
			RateBurst:       100,
			CreatePerMinute: 5,
			Metrics:         MetricsAdmin,
		},
		Webhook: WebhookConfig{
			Timeout:     seconds(10),
			RetryWindow: seconds(24 * 3600),
			MaxBackoff:  seconds(5 * 60),
		},
		Log:     LogConfig{Level: "info", Format: "text", WhatsmeowLevel: "warn"},
		Console: ConsoleConfig{Enabled: true},
		Media:   MediaConfig{Retention: Duration{30 * 24 * time.Hour}, FetchTimeout: seconds(60), MaxUploadMB: 100, IncludeMediaMaxMB: 5},
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

// MediaDir is media.dir, by default "media" next to the database.
func (c *Config) MediaDir() string {
	if c.Media.Dir != "" {
		return c.Media.Dir
	}
	return filepath.Join(c.StateDir(), "media")
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
