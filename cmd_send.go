package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meowgate/meowgate/client"
)

const sendUsage = `Usage: meowgate send NAME TO TEXT... [--wait] [--config PATH] [--url URL] [--key KEY]

Queues a text message from instance NAME to TO (+E164 or a JID) and prints
its id. With --wait it follows the message until WhatsApp accepted it (or it
failed).
`

// sendPollInterval is how often `meowgate send --wait` looks at the message.
const sendPollInterval = 250 * time.Millisecond

func cmdSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, cf := newClientFlagSet("send", sendUsage, getenv, stderr)
	wait := flags.Bool("wait", false, "wait until the message is sent")
	pos, code, ok := parseClientArgs(flags, args)
	if !ok {
		return code
	}
	if len(pos) < 3 {
		return usageError(stderr, sendUsage, "send needs NAME, TO and TEXT")
	}
	name, to, text := pos[0], pos[1], strings.Join(pos[2:], " ")
	c, err := cf.newClient(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 1
	}
	msg, err := c.Send(ctx, name, client.SendRequest{To: to, Text: text})
	if err != nil {
		return fail(ctx, stderr, c, err)
	}
	fmt.Fprintf(stdout, "%s %s\n", msg.ID, msg.Status)
	if !*wait {
		return 0
	}
	last := msg.Status
	for {
		select {
		case <-ctx.Done():
			return exitInterrupted
		case <-time.After(sendPollInterval):
		}
		got, err := c.Message(ctx, name, msg.ID)
		if err != nil {
			return fail(ctx, stderr, c, err)
		}
		if got.Status != last {
			last = got.Status
			fmt.Fprintf(stdout, "%s %s\n", got.ID, last)
		}
		switch last {
		case client.StatusSent, client.StatusDelivered, client.StatusRead, client.StatusPlayed:
			return 0
		case client.StatusFailed, client.StatusExpired, client.StatusCanceled:
			if got.Error != "" {
				fmt.Fprintf(stderr, "meowgate: %s\n", got.Error)
			}
			return 1
		}
	}
}
