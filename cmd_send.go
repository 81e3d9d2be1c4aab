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
       meowgate send NAME TO [CAPTION...] --file PATH [--type TYPE] [--ptt] [--wait] …
       meowgate send NAME TO [PLACE...] --type location --lat LAT --lon LON [--address TEXT] [--wait] …

Queues a message from instance NAME to TO (+E164 or a JID) and prints its
id. With --wait it follows the message until WhatsApp accepted it (or it
failed).

  TEXT...          a text message (the words joined by spaces)
  --file PATH      send the file at PATH ("-": standard input), streamed;
                   the words after TO become its caption
  --type TYPE      image, video, audio, document or sticker for --file (else
                   guessed from the file's content and extension), or
                   location
  --ptt            send the audio file as a voice note (Ogg/Opus, mono)
  --lat, --lon     the coordinates of a location; the words after TO name
                   the place
  --address TEXT   the address of a location
`

// sendPollInterval is how often `meowgate send --wait` looks at the message.
const sendPollInterval = 250 * time.Millisecond

func cmdSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, cf := newClientFlagSet("send", sendUsage, getenv, stderr)
	wait := flags.Bool("wait", false, "wait until the message is sent")
	file := flags.String("file", "", "file to send")
	typ := flags.String("type", "", "message type")
	ptt := flags.Bool("ptt", false, "voice note")
	lat := flags.String("lat", "", "latitude")
	lon := flags.String("lon", "", "longitude")
	address := flags.String("address", "", "address of a location")
	pos, code, ok := parseClientArgs(flags, args)
	if !ok {
		return code
	}
	if len(pos) < 2 {
		return usageError(stderr, sendUsage, "send needs NAME and TO")
	}
	name, to, words := pos[0], pos[1], strings.Join(pos[2:], " ")
	req := client.SendRequest{To: to}
	var upload *sendFile
	switch {
	case *typ == client.MsgLocation:
		if *file != "" || *ptt {
			return usageError(stderr, sendUsage, "--file and --ptt do not go with --type location")
		}
		la, lo, err := parseLatLon(*lat, *lon)
		if err != nil {
			return usageError(stderr, sendUsage, "%v", err)
		}
		req.Type, req.Latitude, req.Longitude, req.Name, req.Address = client.MsgLocation, &la, &lo, words, *address
	case *lat != "" || *lon != "" || *address != "":
		return usageError(stderr, sendUsage, "--lat, --lon and --address go with --type location")
	case *file != "":
		f, err := openSendFile(*file, *typ, *ptt)
		if err != nil {
			return usageError(stderr, sendUsage, "%v", err)
		}
		defer f.Close()
		upload = f
		req.Type, req.Caption, req.PTT = f.kind, words, *ptt
	case *ptt:
		return usageError(stderr, sendUsage, "--ptt needs --file")
	case *typ != "" && *typ != client.MsgText:
		if isFileType(*typ) {
			return usageError(stderr, sendUsage, "--type %s needs --file", *typ)
		}
		return usageError(stderr, sendUsage, "--type must be image, video, audio, document, sticker or location, not %q", *typ)
	default:
		if words == "" {
			return usageError(stderr, sendUsage, "send needs NAME, TO and TEXT")
		}
		req.Text = words
	}
	c, err := cf.newClient(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 1
	}
	var msg *client.Message
	if upload != nil {
		msg, err = c.SendFile(ctx, name, req, upload.name, upload.r)
	} else {
		msg, err = c.Send(ctx, name, req)
	}
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
