package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const sendUsage = `Usage: meowgate send NAME TO TEXT... [--wait] [--config PATH] [--url URL] [--key KEY]

Queues a text message from instance NAME to TO (+E164 or a JID) and prints
its id. With --wait it follows the message until WhatsApp accepted it (or it
failed).
`

func cmdSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, cf := newClientFlagSet("send", sendUsage, getenv, stderr)
	wait := flags.Bool("wait", false, "wait until the message is sent")
	pos, err := parseInterleaved(flags, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
	type message struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	var resp struct {
		Message message `json:"message"`
	}
	if _, err := c.do(ctx, http.MethodPost, instancePath(name, "/messages"), map[string]string{"to": to, "text": text}, &resp); err != nil {
		return fail(ctx, stderr, err)
	}
	fmt.Fprintf(stdout, "%s %s\n", resp.Message.ID, resp.Message.Status)
	if !*wait {
		return 0
	}
	last := resp.Message.Status
	for {
		select {
		case <-ctx.Done():
			return 130
		case <-time.After(250 * time.Millisecond):
		}
		var got struct {
			Message message `json:"message"`
		}
		if _, err := c.do(ctx, http.MethodGet, instancePath(name, "/messages/"+resp.Message.ID), nil, &got); err != nil {
			return fail(ctx, stderr, err)
		}
		if got.Message.Status != last {
			last = got.Message.Status
			fmt.Fprintf(stdout, "%s %s\n", got.Message.ID, last)
		}
		switch last {
		case "sent", "delivered", "read", "played":
			return 0
		case "failed", "expired", "canceled":
			if got.Message.Error != "" {
				fmt.Fprintf(stderr, "meowgate: %s\n", got.Message.Error)
			}
			return 1
		}
	}
}
