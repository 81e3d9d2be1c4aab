package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meowgate/meowgate/client"
)

// qrPollInterval is how often `meowgate qr` looks at the instance.
const qrPollInterval = time.Second

const qrUsage = `Usage:
  meowgate qr NAME [--config PATH] [--url BASE] [--key KEY]

Starts the instance if needed and draws its QR code in the terminal, redrawn
whenever it changes, until a phone has scanned it.
`

func cmdQR(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, cf := newClientFlagSet("qr", qrUsage, getenv, stderr)
	pos, code, ok := parseClientArgs(flags, args)
	if !ok {
		return code
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

	st, err := c.State(ctx, name)
	if err != nil {
		return fail(ctx, stderr, c, err)
	}
	switch st.State {
	case client.StateConnected:
		fmt.Fprintf(stdout, "%s is connected as %s\n", name, cmp.Or(st.Phone, st.JID))
		return 0
	case client.StateStarting, client.StateScanQR:
	default:
		if _, err := c.Connect(ctx, name); err != nil && !client.IsCode(err, client.CodeAlreadyConnected) {
			return fail(ctx, stderr, c, err)
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
		st, err := c.State(ctx, name)
		if err != nil {
			return fail(ctx, stderr, c, err)
		}
		switch st.State {
		case client.StateConnected:
			fmt.Fprintf(stdout, "linked as %s (%s)\n", cmp.Or(st.Phone, "?"), st.JID)
			return 0
		case client.StateLoggedOut, client.StateFailed, client.StateCreated:
			fmt.Fprintf(stderr, "meowgate: %s is %s (%s); run meowgate qr %s to try again\n", name, st.State, cmp.Or(st.Reason, "no reason given"), name)
			return 1
		case client.StateDisconnected:
			switch st.Reason {
			case client.ReasonQRTimeout:
				fmt.Fprintf(stderr, "meowgate: the QR code expired; run meowgate qr %s again\n", name)
				return 1
			case client.ReasonUserRequest:
				fmt.Fprintf(stderr, "meowgate: %s was disconnected; run meowgate qr %s again\n", name, name)
				return 1
			}
			// Otherwise it is reconnecting by itself: wait.
		case client.StateScanQR:
			text, err := c.QRText(ctx, name)
			if client.IsCode(err, client.CodeNotAwaitingQR) {
				continue // the state moved on since; look again
			}
			if err != nil {
				return fail(ctx, stderr, c, err)
			}
			if text == shown {
				continue
			}
			qr, err := c.QR(ctx, name)
			if err != nil && !client.IsCode(err, client.CodeNotAwaitingQR) {
				return fail(ctx, stderr, c, err)
			}
			if tty {
				io.WriteString(stdout, "\x1b[H\x1b[2J")
			} else if shown != "" {
				io.WriteString(stdout, "\n")
			}
			shown = text
			io.WriteString(stdout, shown)
			if !strings.HasSuffix(shown, "\n") {
				io.WriteString(stdout, "\n")
			}
			expires := ""
			if qr != nil && !qr.ExpiresAt.IsZero() {
				expires = fmt.Sprintf(" (expires in %ds)", max(0, int(time.Until(qr.ExpiresAt).Round(time.Second)/time.Second)))
			}
			fmt.Fprintf(stdout, "Scan with WhatsApp → Linked devices → Link a device%s\n", expires)
		}
	}
}
