package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMediaConfig: the [media] section's defaults, days in durations, the
// environment overrides and file:line errors.
func TestMediaConfig(t *testing.T) {
	cfg, err := LoadConfig("", env(map[string]string{"STATE_DIRECTORY": "/var/lib/meowgate"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.MediaDir(); got != "/var/lib/meowgate/media" {
		t.Errorf("default media dir %q", got)
	}
	m := cfg.Media
	if m.Retention.Duration != 30*24*time.Hour || m.FetchTimeout.Duration != time.Minute || m.MaxUploadMB != 100 || m.IncludeMediaMaxMB != 5 {
		t.Errorf("defaults %+v", m)
	}

	// The media dir follows the database unless set.
	path := writeConfig(t, "[store]\npath = \"/srv/mg/db.sqlite\"\n[media]\nretention = \"30d\"\nfetch_timeout = \"1d12h\"\n")
	cfg, err = LoadConfig(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MediaDir() != filepath.Join("/srv/mg", "media") || cfg.Media.Retention.Duration != 30*24*time.Hour ||
		cfg.Media.FetchTimeout.Duration != 36*time.Hour {
		t.Errorf("media %+v, dir %q", cfg.Media, cfg.MediaDir())
	}

	cfg, err = LoadConfig(path, env(map[string]string{
		"MEOWGATE_MEDIA_DIR": "/mnt/media", "MEOWGATE_MEDIA_RETENTION": "7d", "MEOWGATE_MEDIA_MAX_UPLOAD_MB": "16",
		"MEOWGATE_MEDIA_INCLUDE_MEDIA_MAX_MB": "0", "MEOWGATE_MEDIA_FETCH_TIMEOUT": "5s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MediaDir() != "/mnt/media" || cfg.Media.Retention.Duration != 7*24*time.Hour || cfg.Media.MaxUploadMB != 16 ||
		cfg.Media.IncludeMediaMaxMB != 0 || cfg.Media.FetchTimeout.Duration != 5*time.Second {
		t.Errorf("env: %+v", cfg.Media)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid env config: %v", err)
	}

	for _, tt := range []struct{ file, want string }{
		{"[media]\nretention = \"30days\"\n", `config.toml:2: media.retention: want a duration such as "30s", "5m" or "30d"`},
		{"[media]\nretention = \"d\"\n", `config.toml:2: media.retention: want a duration`},
		{"[media]\nretention = \"1d-1h\"\n", `config.toml:2: media.retention: want a duration`},
		{"[media]\nretention = \"99999999999d\"\n", `config.toml:2: media.retention: want a duration`},
		{"[media]\nretention = 30\n", `config.toml:2: media.retention: want a duration string such as "30s", got integer 30`},
		{"[media]\nmax_upload = 5\n", `config.toml:2: unknown key "media.max_upload" (did you mean "media.max_upload_mb"?)`},
	} {
		_, err := LoadConfig(writeConfig(t, tt.file), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.file, err, tt.want)
		}
	}
	for _, tt := range []struct{ file, want string }{
		{"\n[media]\nretention = \"-1h\"\n", "config.toml:3: media.retention: must not be negative"},
		{"[media]\nfetch_timeout = \"0s\"\n", "config.toml:2: media.fetch_timeout: must be a positive duration"},
		{"[media]\n\nmax_upload_mb = 0\n", "config.toml:3: media.max_upload_mb: must be 1 to 2048"},
		{"[media]\nmax_upload_mb = 4096\n", "config.toml:2: media.max_upload_mb: must be 1 to 2048"},
		{"[media]\ninclude_media_max_mb = -1\n", "config.toml:2: media.include_media_max_mb: must be 0 (never inline) to 64"},
	} {
		cfg, err := LoadConfig(writeConfig(t, tt.file), env(nil))
		if err != nil {
			t.Fatalf("%q: %v", tt.file, err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.file, err, tt.want)
		}
	}
	_, err = LoadConfig("", env(map[string]string{"MEOWGATE_MEDIA_RETENTION": "forever"}))
	if err == nil || !strings.Contains(err.Error(), "MEOWGATE_MEDIA_RETENTION: want a duration") {
		t.Errorf("bad env duration: %v", err)
	}
}
