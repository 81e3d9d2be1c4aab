package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzConfig feeds TOML to the config decoder and validation: it never
// panics; every error line names the file's line or a key; a config that
// decodes validates the same way twice, and writing it out as TOML and
// reading it back gives the same config and the same verdict.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("config.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	// The example with every option uncommented: all keys, default values.
	f.Add(regexp.MustCompile(`(?m)^# ([a-z_]+ = )`).ReplaceAll(example, []byte("$1")))
	for _, s := range []string{
		"",
		"[server]\nlisten = \"127.0.0.1:8080\"\n\n\nlistn = \"x\"\n",
		"[log]\nlevel = \"info\"\ncolour = true\n[bogus]\nx = 1\n[whatsapp.defaults]\nsend_delay = 5\n",
		"[server]\n\nlisten = 8080\n",
		"[sandbox]\nenabled = \"yes\"\n",
		"[webhook]\ntimeout = \"10x\"\n",
		"[server]\nlisten = \"127.0.0.1:8080\"\nread_timeout = 30\n",
		"server = { listen = \"127.0.0.1:8080\", idle_timeout = 5 }\n",
		"[server\n",
		"[api]\nrate_limit = nan\nrate_burst = -1\n",
		"[api]\nrate_limit = -nan\n",
		"[api]\nrate_limit = inf\n",
		"[server]\nlisten = \":99999\"\nmax_body_bytes = 0\n[webhook]\nmax_backoff = \"-1s\"\n",
		"[whatsapp.defaults]\nqueue_ttl = \"1000h\"\nsend_delay_ms = 9223372036854775807\n",
		"[[server]]\nlisten = \"x\"\n",
		"whatsapp.defaults.mark_read = true\nwhatsapp = 1\n",
		"[log]\nlevel = \"debug\"\nformat = \"json\"\nwhatsmeow_level = \"error\"\n",
		"[server]\nshutdown_timeout = \"-2562047h47m16.854775808s\"\n",
		"[api]\nadmin_key = \"k\"\nadmin_key_file = \"/nonexistent\"\n",
	} {
		f.Add([]byte(s))
	}
	keyFile := filepath.Join(f.TempDir(), "admin.key")
	if err := os.WriteFile(keyFile, []byte("fuzz-admin-key\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	var keys []string
	for _, k := range configKeys() {
		keys = append(keys, k.name())
	}
	lineRE := regexp.MustCompile(`^config\.toml:[0-9]+: `)
	names := func(line string) bool {
		for _, k := range keys {
			if strings.Contains(line, k) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig(env(nil))
		if err := decodeConfig("config.toml", data, cfg); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !lineRE.MatchString(line) && !names(line) {
					t.Fatalf("error line names neither a line nor a key: %q\nconfig:\n%s", line, data)
				}
			}
			return
		}
		out, err := toml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal a decoded config: %v", err)
		}
		again := DefaultConfig(env(nil))
		if err := decodeConfig("again.toml", out, again); err != nil {
			t.Fatalf("the config written back does not load: %v\n%s", err, out)
		}
		if out2, _ := toml.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("config changed on a round trip:\n%s\n---\n%s", out, out2)
		}
		// Validate reads api.admin_key_file; never let the fuzzer name a
		// file (it could be /dev/zero).
		for _, c := range []*Config{cfg, again} {
			if c.API.AdminKeyFile != "" {
				c.API.AdminKeyFile = keyFile
			}
		}
		v1, v2, v3 := errText(cfg.Validate()), errText(cfg.Validate()), errText(again.Validate())
		if v1 != v2 || v1 != v3 {
			t.Fatalf("validation is not stable:\n%s\n---\n%s\n---\n%s", v1, v2, v3)
		}
		if v1 != "" {
			for _, line := range strings.Split(v1, "\n") {
				key, _, _ := strings.Cut(line, ": ")
				if !names(key) {
					t.Fatalf("validation error does not start with a key: %q", line)
				}
			}
			return
		}
		if r := cfg.API.RateLimit; math.IsNaN(r) {
			t.Fatalf("api.rate_limit = %v passed validation", r)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
