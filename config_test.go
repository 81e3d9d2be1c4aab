package main

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// env returns a getenv backed by a map.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// writeConfig writes a config file named config.toml into a temp dir.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	cfg, err := LoadConfig("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"server.read_header_timeout", cfg.Server.ReadHeaderTimeout.Duration, 5 * time.Second},
		{"server.read_timeout", cfg.Server.ReadTimeout.Duration, 30 * time.Second},
		{"server.write_timeout", cfg.Server.WriteTimeout.Duration, 60 * time.Second},
		{"server.idle_timeout", cfg.Server.IdleTimeout.Duration, 120 * time.Second},
		{"server.shutdown_timeout", cfg.Server.ShutdownTimeout.Duration, 15 * time.Second},
		{"server.max_body_bytes", cfg.Server.MaxBodyBytes, int64(1 << 20)},
		{"api.rate_limit", cfg.API.RateLimit, 50.0},
		{"api.rate_burst", cfg.API.RateBurst, 100},
		{"api.create_per_minute", cfg.API.CreatePerMinute, 5},
		{"api.metrics", cfg.API.Metrics, "admin"},
		{"store.path", cfg.Store.Path, filepath.Join("data", "meowgate.db")},
		{"whatsapp.device_name", cfg.WhatsApp.DeviceName, "meowgate"},
		{"whatsapp.defaults", cfg.WhatsApp.Defaults, Settings{SendDelayMS: 1000, QueueTTL: "24h", AutoDownload: true, MaxDownloadMB: 64}},
		{"webhook.timeout", cfg.Webhook.Timeout.Duration, 10 * time.Second},
		{"webhook.retry_window", cfg.Webhook.RetryWindow.Duration, 24 * time.Hour},
		{"webhook.max_backoff", cfg.Webhook.MaxBackoff.Duration, 5 * time.Minute},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "text"},
		{"log.whatsmeow_level", cfg.Log.WhatsmeowLevel, "warn"},
		{"sandbox.enabled", cfg.Sandbox.Enabled, false},
		{"sandbox.addr", cfg.Sandbox.Addr, ""},
		{"console.enabled", cfg.Console.Enabled, true},
		{"StateDir", cfg.StateDir(), "data"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestStateDirectoryDefault(t *testing.T) {
	tests := []struct {
		stateDir string
		want     string
	}{
		{"", filepath.Join("data", "meowgate.db")},
		{"/var/lib/meowgate", "/var/lib/meowgate/meowgate.db"},
		{"/var/lib/meowgate:/var/lib/other", "/var/lib/meowgate/meowgate.db"},
	}
	for _, tt := range tests {
		cfg, err := LoadConfig("", env(map[string]string{"STATE_DIRECTORY": tt.stateDir}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Store.Path != tt.want {
			t.Errorf("STATE_DIRECTORY=%q: store.path = %q, want %q", tt.stateDir, cfg.Store.Path, tt.want)
		}
	}
	// The file wins over STATE_DIRECTORY.
	path := writeConfig(t, "[store]\npath = \"/srv/mg/db.sqlite\"\n")
	cfg, err := LoadConfig(path, env(map[string]string{"STATE_DIRECTORY": "/var/lib/meowgate"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Path != "/srv/mg/db.sqlite" || cfg.StateDir() != "/srv/mg" {
		t.Errorf("store.path = %q, StateDir = %q", cfg.Store.Path, cfg.StateDir())
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	const file = `
[server]
listen = "0.0.0.0:9090"
read_timeout = "45s"
max_body_bytes = 2048

[api]
rate_limit = 10   # an integer is fine for a float
metrics = "loopback"

[whatsapp.defaults]
send_delay_ms = 3000
queue_ttl = "2h"
reject_calls = true

[log]
level = "debug"
`
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "file overrides defaults",
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != "0.0.0.0:9090" || c.Server.ReadTimeout.Duration != 45*time.Second || c.Server.MaxBodyBytes != 2048 {
					t.Errorf("server = %+v", c.Server)
				}
				if c.Server.WriteTimeout.Duration != 60*time.Second {
					t.Errorf("unset key lost its default: write_timeout = %v", c.Server.WriteTimeout)
				}
				if c.API.RateLimit != 10 || c.API.Metrics != "loopback" || c.API.RateBurst != 100 {
					t.Errorf("api = %+v", c.API)
				}
				want := Settings{SendDelayMS: 3000, QueueTTL: "2h", RejectCalls: true, AutoDownload: true, MaxDownloadMB: 64}
				if c.WhatsApp.Defaults != want {
					t.Errorf("defaults = %+v, want %+v", c.WhatsApp.Defaults, want)
				}
				if c.Log.Level != "debug" || c.Log.Format != "text" {
					t.Errorf("log = %+v", c.Log)
				}
			},
		},
		{
			name: "env overrides file",
			env: map[string]string{
				"MEOWGATE_SERVER_LISTEN":                   "127.0.0.1:7000",
				"MEOWGATE_SERVER_READ_TIMEOUT":             "1m",
				"MEOWGATE_API_RATE_LIMIT":                  "2.5",
				"MEOWGATE_API_ADMIN_KEY":                   "from-env-0123456789abcdef",
				"MEOWGATE_LOG_LEVEL":                       "error",
				"MEOWGATE_STORE_PATH":                      "/tmp/x.db",
				"MEOWGATE_SANDBOX_ENABLED":                 "true",
				"MEOWGATE_WHATSAPP_DEFAULTS_SEND_DELAY_MS": "0",
				"MEOWGATE_WHATSAPP_DEFAULTS_REJECT_CALLS":  "false",
				"MEOWGATE_WHATSAPP_DEFAULTS_QUEUE_TTL":     "48h",
				"MEOWGATE_LOG_FORMAT":                      "", // empty = unset
			},
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != "127.0.0.1:7000" || c.Server.ReadTimeout.Duration != time.Minute || c.Server.MaxBodyBytes != 2048 {
					t.Errorf("server = %+v", c.Server)
				}
				if c.API.RateLimit != 2.5 || c.API.AdminKey != "from-env-0123456789abcdef" {
					t.Errorf("api = %+v", c.API)
				}
				if c.Log.Level != "error" || c.Log.Format != "text" {
					t.Errorf("log = %+v", c.Log)
				}
				if c.Store.Path != "/tmp/x.db" || !c.Sandbox.Enabled {
					t.Errorf("store = %+v, sandbox = %+v", c.Store, c.Sandbox)
				}
				want := Settings{SendDelayMS: 0, QueueTTL: "48h", RejectCalls: false, AutoDownload: true, MaxDownloadMB: 64}
				if c.WhatsApp.Defaults != want {
					t.Errorf("defaults = %+v, want %+v", c.WhatsApp.Defaults, want)
				}
			},
		},
	}
	path := writeConfig(t, file)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(path, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestEveryKeyHasAnEnvVar(t *testing.T) {
	seen := map[string]string{}
	for _, k := range configKeys() {
		name := k.envName()
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s share %s", other, k.name(), name)
		}
		seen[name] = k.name()

		// Set each variable alone to a valid value and check it lands.
		raw := map[reflect.Kind]string{
			reflect.String: "x", reflect.Bool: "true", reflect.Int: "7",
			reflect.Int64: "7", reflect.Float64: "7.5", reflect.Struct: "7s",
		}[k.typ.Kind()]
		if raw == "" {
			t.Fatalf("%s: no test value for %s", k.name(), k.typ)
		}
		def := reflect.ValueOf(DefaultConfig(env(nil))).Elem().FieldByIndex(k.index)
		if k.typ.Kind() == reflect.Bool && def.Bool() {
			raw = "false" // a switch that is on by default (console.enabled)
		}
		cfg, err := LoadConfig("", env(map[string]string{name: raw}))
		if err != nil {
			t.Fatalf("%s=%s: %v", name, raw, err)
		}
		got := reflect.ValueOf(cfg).Elem().FieldByIndex(k.index)
		if reflect.DeepEqual(got.Interface(), def.Interface()) {
			t.Errorf("%s=%s did not change %s", name, raw, k.name())
		}
	}
	for _, name := range []string{"MEOWGATE_SERVER_LISTEN", "MEOWGATE_API_ADMIN_KEY", "MEOWGATE_LOG_LEVEL",
		"MEOWGATE_STORE_PATH", "MEOWGATE_SANDBOX_ENABLED", "MEOWGATE_WHATSAPP_DEFAULTS_SEND_DELAY_MS"} {
		if _, ok := seen[name]; !ok {
			t.Errorf("no key for %s", name)
		}
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"MEOWGATE_SERVER_READ_TIMEOUT": "30"}, []string{"MEOWGATE_SERVER_READ_TIMEOUT", `"30"`}},
		{map[string]string{"MEOWGATE_SANDBOX_ENABLED": "yes please"}, []string{"MEOWGATE_SANDBOX_ENABLED", "true or false"}},
		{map[string]string{"MEOWGATE_API_RATE_BURST": "lots"}, []string{"MEOWGATE_API_RATE_BURST", "integer"}},
		{map[string]string{"MEOWGATE_API_RATE_LIMIT": "fast"}, []string{"MEOWGATE_API_RATE_LIMIT", "number"}},
		{
			// Every bad variable is reported, not just the first.
			map[string]string{"MEOWGATE_API_RATE_BURST": "x", "MEOWGATE_WEBHOOK_TIMEOUT": "y"},
			[]string{"MEOWGATE_API_RATE_BURST", "MEOWGATE_WEBHOOK_TIMEOUT"},
		},
	}
	for _, tt := range tests {
		_, err := LoadConfig("", env(tt.env))
		if err == nil {
			t.Errorf("%v: no error", tt.env)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", tt.env, err, w)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // each must appear in the error text
	}{
		{
			name: "unknown key with line",
			file: "[server]\nlisten = \"127.0.0.1:8080\"\n\n\nlistn = \"x\"\n",
			want: []string{`config.toml:5: unknown key "server.listn" (did you mean "server.listen"?)`},
		},
		{
			name: "every unknown key",
			file: "[log]\nlevel = \"info\"\ncolour = true\n[bogus]\nx = 1\n[whatsapp.defaults]\nsend_delay = 5\n",
			want: []string{
				`config.toml:3: unknown key "log.colour"`,
				`config.toml:4: unknown table "bogus"`,
				`config.toml:7: unknown key "whatsapp.defaults.send_delay" (did you mean "whatsapp.defaults.send_delay_ms"?)`,
			},
		},
		{
			name: "type error",
			file: "[server]\n\nlisten = 8080\n",
			want: []string{`config.toml:3: server.listen: want a string, got a TOML integer`},
		},
		{
			name: "bool type error",
			file: "[sandbox]\nenabled = \"yes\"\n",
			want: []string{`config.toml:2: sandbox.enabled: want true or false, got a TOML string`},
		},
		{
			name: "bad duration string",
			file: "[webhook]\ntimeout = \"10x\"\n",
			want: []string{`config.toml:2: webhook.timeout: want a duration such as "30s"`},
		},
		{
			name: "duration given as a number",
			file: "[server]\nlisten = \"127.0.0.1:8080\"\nread_timeout = 30\n",
			want: []string{`config.toml:3: server.read_timeout: want a duration string such as "30s", got integer 30`},
		},
		{
			name: "duration number in an inline table",
			file: "server = { listen = \"127.0.0.1:8080\", idle_timeout = 5 }\n",
			want: []string{`config.toml:1: server.idle_timeout: want a duration string such as "30s", got integer 5`},
		},
		{
			name: "syntax error",
			file: "[server\n",
			want: []string{`config.toml:1: `},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.file)
			_, err := LoadConfig(path, env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.toml"), env(nil))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string
	}{
		{"listen without port", func(c *Config) { c.Server.Listen = "localhost" }, []string{"server.listen: must be host:port"}},
		{"listen bad port", func(c *Config) { c.Server.Listen = "127.0.0.1:http" }, []string{"server.listen: port must be a number"}},
		{"listen port too big", func(c *Config) { c.Server.Listen = ":70000" }, []string{"server.listen: port"}},
		{"zero header timeout", func(c *Config) { c.Server.ReadHeaderTimeout = Duration{} }, []string{"server.read_header_timeout: must be a positive duration"}},
		{"negative read timeout", func(c *Config) { c.Server.ReadTimeout = Duration{-time.Second} }, []string{"server.read_timeout: must not be negative"}},
		{"max body", func(c *Config) { c.Server.MaxBodyBytes = 0 }, []string{"server.max_body_bytes: must be positive"}},
		{"metrics", func(c *Config) { c.API.Metrics = "public" }, []string{"api.metrics: must be one of admin, loopback, off"}},
		{"rate limits", func(c *Config) { c.API.RateLimit, c.API.RateBurst, c.API.CreatePerMinute = 0, 0, 0 },
			[]string{"api.rate_limit:", "api.rate_burst:", "api.create_per_minute:"}},
		{"both admin key sources", func(c *Config) { c.API.AdminKey, c.API.AdminKeyFile = "k", "/f" }, []string{"api.admin_key_file: set either"}},
		{"missing admin key file", func(c *Config) { c.API.AdminKeyFile = "/nonexistent/admin.key" }, []string{"api.admin_key_file: open /nonexistent/admin.key"}},
		{"store path", func(c *Config) { c.Store.Path = "" }, []string{"store.path: must not be empty"}},
		{"device name", func(c *Config) { c.WhatsApp.DeviceName = "" }, []string{"whatsapp.device_name:"}},
		{"keepalive timeout", func(c *Config) { c.WhatsApp.KeepaliveTimeout = seconds(1) }, []string{"whatsapp.keepalive_timeout:"}},
		{"settings", func(c *Config) {
			c.WhatsApp.Defaults.SendDelayMS = -1
			c.WhatsApp.Defaults.SendJitterMS = 86_400_001
			c.WhatsApp.Defaults.QueueTTL = "500ms"
			c.WhatsApp.Defaults.RejectCallMessage = strings.Repeat("é", 4097)
		}, []string{
			"whatsapp.defaults.reject_call_message: must be at most 4096 characters",
			"whatsapp.defaults.send_delay_ms: must be between 0 and 86400000",
			"whatsapp.defaults.send_jitter_ms: must be between 0 and 86400000",
			"whatsapp.defaults.queue_ttl: must be a duration between 1s and 720h",
		}},
		{"webhook", func(c *Config) {
			c.Webhook.Timeout, c.Webhook.RetryWindow, c.Webhook.MaxBackoff = Duration{}, Duration{}, Duration{time.Millisecond}
		},
			[]string{"webhook.timeout: must be a positive duration", "webhook.retry_window:", "webhook.max_backoff: must be at least 1s"}},
		{"log", func(c *Config) { c.Log.Level, c.Log.Format, c.Log.WhatsmeowLevel = "verbose", "xml", "trace" }, []string{
			"log.level: must be one of debug, info, warn, error",
			"log.format: must be one of text, json",
			"log.whatsmeow_level: must be one of debug, info, warn, error",
		}},
		{"sandbox addr", func(c *Config) { c.Sandbox.Enabled, c.Sandbox.Addr = true, "wasim" }, []string{"sandbox.addr: must be host:port"}},
		{"sandbox addr without enabled", func(c *Config) { c.Sandbox.Addr = "127.0.0.1:9999" }, []string{"sandbox.addr: is set but sandbox.enabled is not true"}},
		{"short admin key", func(c *Config) { c.API.AdminKey = "x" }, []string{"api.admin_key: must be at least 24 characters (it has 1)"}},
		{"23-character admin key", func(c *Config) { c.API.AdminKey = strings.Repeat("k", 23) }, []string{"api.admin_key: must be at least 24"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig(env(nil))
			tt.modify(cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain %q", err, w)
				}
			}
		})
	}

	// Accepted edge values.
	cfg := DefaultConfig(env(nil))
	cfg.Server.Listen = "[::1]:0"
	cfg.Server.ReadTimeout = Duration{} // 0 disables
	cfg.Log.Level = "WARN"
	cfg.Sandbox.Enabled, cfg.Sandbox.Addr = true, "127.0.0.1:9999"
	cfg.WhatsApp.Defaults = Settings{SendDelayMS: 86_400_000, QueueTTL: "720h", RejectCallMessage: strings.Repeat("é", 4096), MaxDownloadMB: 2048}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid edge values rejected: %v", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	if p := DefaultSettings().Validate(); p != nil {
		t.Errorf("default settings invalid: %v", p)
	}
	p := Settings{SendDelayMS: 1000, QueueTTL: "soon", MaxDownloadMB: 1}.Validate()
	if len(p) != 1 || p["queue_ttl"] == "" {
		t.Errorf("problems = %v, want queue_ttl only", p)
	}
}

// uncommentExample turns "# key = value" lines back into settings, so the
// example's documented values can be decoded and compared to the defaults.
func uncommentExample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^# ?([a-z_]+ = .*)$`).ReplaceAll(b, []byte("$1"))
}

// The packaged example is installed as /etc/meowgate/config.toml: as
// shipped it must load and validate.
func TestExampleLoads(t *testing.T) {
	cfg, err := LoadConfig("config.example.toml", env(map[string]string{"STATE_DIRECTORY": "/var/lib/meowgate"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The values the example documents are the real defaults (under systemd).
func TestExampleDocumentsDefaults(t *testing.T) {
	path := writeConfig(t, string(uncommentExample(t)))
	getenv := env(map[string]string{"STATE_DIRECTORY": "/var/lib/meowgate"})
	cfg, err := LoadConfig(path, getenv)
	if err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	if want := DefaultConfig(getenv); !reflect.DeepEqual(values(cfg), values(want)) {
		t.Errorf("example documents\n%+v\ndefaults are\n%+v", cfg, want)
	}
}

// Every config key is documented in the example, in its section.
func TestExampleDocumentsEveryKey(t *testing.T) {
	var doc map[string]any
	if err := toml.Unmarshal(uncommentExample(t), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range configKeys() {
		m := doc
		for i, part := range k.path {
			v, ok := m[part]
			if !ok {
				t.Errorf("config.example.toml does not document %s", k.name())
				break
			}
			if i < len(k.path)-1 {
				m, _ = v.(map[string]any)
			}
		}
	}
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{24 * time.Hour, "24h"},
		{5 * time.Minute, "5m"},
		{90 * time.Second, "1m30s"},
		{time.Hour + time.Second, "1h0m1s"},
		{500 * time.Millisecond, "500ms"},
		{0, "0s"},
	} {
		b, err := Duration{tt.d}.MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", tt.d, b, err, tt.want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back.Duration != tt.d {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}

	// The whole config survives a round trip through TOML.
	cfg := DefaultConfig(env(nil))
	b, err := toml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, string(b))
	back, err := LoadConfig(path, env(nil))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(values(back), values(cfg)) {
		t.Errorf("round trip changed the config:\n%s", b)
	}
}

func TestAdminKeySources(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(keyFile, []byte("from-file-0123456789abcdef\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	conf := writeConfig(t, "[api]\nadmin_key = \"from-toml-0123456789abcdef\"\n")

	tests := []struct {
		name       string
		file       string
		env        map[string]string
		wantKey    string
		wantSource string
	}{
		{"config file", conf, nil, "from-toml-0123456789abcdef", "config"},
		{"env beats file", conf, map[string]string{"MEOWGATE_API_ADMIN_KEY": "from-env-0123456789abcdef"}, "from-env-0123456789abcdef", "config"},
		{"_FILE env beats file", conf, map[string]string{"MEOWGATE_API_ADMIN_KEY_FILE": keyFile}, "from-file-0123456789abcdef", "file " + keyFile},
		{"generated", "", nil, "", "generated " + filepath.Join(stateDir, "admin.key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := env(map[string]string{"MEOWGATE_STORE_PATH": filepath.Join(stateDir, "meowgate.db")})
			for k, v := range tt.env {
				getenv = func(prev func(string) string) func(string) string {
					return func(s string) string {
						if s == k {
							return v
						}
						return prev(s)
					}
				}(getenv)
			}
			cfg, err := LoadConfig(tt.file, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			key, source, err := cfg.AdminKey()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantKey != "" && key != tt.wantKey {
				t.Errorf("key = %q, want %q", key, tt.wantKey)
			}
			if source != tt.wantSource {
				t.Errorf("source = %q, want %q", source, tt.wantSource)
			}
		})
	}

	// After generation, the server and the client read the same key.
	cfg := DefaultConfig(env(nil))
	cfg.Store.Path = filepath.Join(stateDir, "meowgate.db")
	k1, src, err := cfg.AdminKey()
	if err != nil || src != "file "+filepath.Join(stateDir, "admin.key") {
		t.Fatalf("second AdminKey: %q, %v", src, err)
	}
	k2, _, err := cfg.ExistingAdminKey()
	if err != nil || k1 != k2 {
		t.Errorf("ExistingAdminKey = %q, %v; want %q", k2, err, k1)
	}
}

func TestReadOrCreateAdminKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")

	if _, err := ReadAdminKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadAdminKey before creation: %v, want not-exist", err)
	}
	key, created, err := ReadOrCreateAdminKey(dir)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
		t.Errorf("key %q is not 32 hex-encoded bytes", key)
	}
	path := filepath.Join(dir, "admin.key")
	for p, want := range map[string]fs.FileMode{path: 0o600, dir: 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, st.Mode().Perm(), err, want)
		}
	}
	again, created, err := ReadOrCreateAdminKey(dir)
	if err != nil || created || again != key {
		t.Errorf("second call: %q created=%v err=%v; want the same key", again, created, err)
	}
	if got, err := ReadAdminKey(dir); err != nil || got != key {
		t.Errorf("ReadAdminKey = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}

	// An empty file is replaced rather than served as an empty key.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAdminKey(dir); err == nil {
		t.Error("ReadAdminKey accepted an empty file")
	}
	if k, created, err := ReadOrCreateAdminKey(dir); err != nil || !created || k == "" {
		t.Errorf("empty file: %q created=%v err=%v", k, created, err)
	}
}

// Concurrent first starts agree on one key.
func TestReadOrCreateAdminKeyRace(t *testing.T) {
	dir := t.TempDir()
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := ReadOrCreateAdminKey(dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatalf("keys differ: %v", keys)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"WARNING", slog.LevelWarn, false},
		{" Error ", slog.LevelError, false},
		{"", slog.LevelInfo, true},
		{"trace", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name     string
		cfg      LogConfig
		journald bool
		want     []string
		notWant  []string
	}{
		{"text info", LogConfig{Level: "info", Format: "text"}, false,
			[]string{"level=INFO msg=shown", "time="}, []string{"hidden"}},
		{"text under journald", LogConfig{Level: "info", Format: "text"}, true,
			[]string{"level=INFO msg=shown"}, []string{"time=", "hidden"}},
		{"json keeps time", LogConfig{Level: "info", Format: "json"}, true,
			[]string{`"msg":"shown"`, `"time":`}, []string{"hidden"}},
		{"debug", LogConfig{Level: "debug", Format: "text"}, false,
			[]string{"msg=shown", "msg=hidden"}, nil},
		{"error only", LogConfig{Level: "error", Format: "text"}, false,
			nil, []string{"shown", "hidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(tt.cfg, &buf, tt.journald)
			log.Info("shown")
			log.Debug("hidden")
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output %q has %q", out, w)
				}
			}
		})
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"module version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, "0123456789ab"},
		{"dirty", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "0123456789ab-dirty"},
		{"nothing", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	}
	for _, tt := range tests {
		if got := versionFromBuildInfo(&tt.info); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if Version() == "" {
		t.Error("Version() is empty")
	}
}

// TestValidateNamesLine: a bad value from the file names its file and line,
// one from the environment names its variable.
func TestValidateNamesLine(t *testing.T) {
	conf := writeConfig(t, "[server]\nlisten = \"127.0.0.1:8080\"\n\n[api]\nadmin_key = \"short\"\n\n[sandbox]\naddr = \"127.0.0.1:9999\"\n[whatsapp]\nclient_version = \"2.3000.x\"\n")
	cfg, err := LoadConfig(conf, env(map[string]string{"MEOWGATE_LOG_FORMAT": "xml"}))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	for _, want := range []string{
		conf + ":5: api.admin_key: must be at least 24 characters",
		conf + ":8: sandbox.addr: is set but sandbox.enabled is not true",
		conf + ":10: whatsapp.client_version: must be",
		"$MEOWGATE_LOG_FORMAT: log.format: must be one of text, json",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not contain %q", err, want)
		}
	}
	// A 24-character key and an enabled sandbox pass.
	conf = writeConfig(t, "[api]\nadmin_key = \""+strings.Repeat("k", 24)+"\"\n[sandbox]\nenabled = true\naddr = \"127.0.0.1:9999\"\n")
	if cfg, err = LoadConfig(conf, env(nil)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// values is c without the record of where each value came from.
func values(c *Config) Config {
	v := *c
	v.origin = nil
	return v
}

func TestCompatConfig(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, ""), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Compat.Evolution || cfg.Compat.EvolutionPrefix != "" {
		t.Fatalf("compat is on by default: %+v", cfg.Compat)
	}
	cfg, err = LoadConfig(writeConfig(t, "[compat]\nevolution = true\nevolution_prefix = \"/evo\"\n"),
		env(map[string]string{"MEOWGATE_COMPAT_EVOLUTION_PREFIX": "/evolution"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Compat.Evolution || cfg.Compat.EvolutionPrefix != "/evolution" {
		t.Fatalf("compat %+v", cfg.Compat)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"evo", "/evo/", "/v1", "/v1/x", "/a b", "//x"} {
		conf := writeConfig(t, "[compat]\nevolution = true\n\nevolution_prefix = \""+bad+"\"\n")
		cfg, err := LoadConfig(conf, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		want := conf + ":4: compat.evolution_prefix: must be"
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("prefix %q: %v, want %q", bad, err, want)
		}
	}
}
