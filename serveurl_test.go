package main

import "testing"

func TestServerURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		":9000":          "http://localhost:9000",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"gw.lan:80":      "http://gw.lan:80",
	} {
		if got := serverURL(listen); got != want {
			t.Errorf("serverURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
