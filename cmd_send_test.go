package main

import (
	"strings"
	"testing"
	"time"
)

func TestClientSend(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	if code, _ := s.api(t, "POST", "/v1/instances", `{"name":"tx","connect":true}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitFor(t, "QR", 10*time.Second, func() bool { code, _ := s.api(t, "GET", "/v1/instances/tx/qr", ""); return code == 200 })
	if code, body := s.api(t, "POST", "/v1/sandbox/instances/tx/scan", `{"phone":"+4915100000301"}`); code != 200 {
		t.Fatalf("scan: %d %s", code, body)
	}
	waitFor(t, "connected", 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/instances/tx/state", "")
		return strings.Contains(string(body), `"connected"`)
	})
	code, out, errOut := runCLI(t, noEnv, "send", "tx", "+4915100000302", "hello", "from", "the", "CLI", "--wait", "--url", s.url, "--key", testAdminKey)
	if code != 0 || !strings.Contains(out, " queued") || !strings.Contains(out, " sent") {
		t.Fatalf("send: %d\n%s\n%s", code, out, errOut)
	}
	waitFor(t, "inbox", 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/sandbox/contacts/+4915100000302/inbox", "")
		return strings.Contains(string(body), "hello from the CLI")
	})
	code, _, errOut = runCLI(t, noEnv, "send", "tx", "+9995550002", "nobody", "--wait", "--url", s.url, "--key", testAdminKey)
	if code != 1 || !strings.Contains(errOut, "not on WhatsApp") {
		t.Fatalf("send to +999: %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, noEnv, "send", "tx", "12", "bad", "--url", s.url, "--key", testAdminKey)
	if code != 1 || !strings.Contains(errOut, "invalid") {
		t.Fatalf("send to a bad number: %d %s", code, errOut)
	}
}
