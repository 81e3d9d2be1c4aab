package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/meowgate/meowgate/client"
)

const instancesUsage = `Usage:
  meowgate instances list [--json]
  meowgate instances create NAME [--connect] [--phone +E164] [--device-name X] [--json]
  meowgate instances delete NAME
  meowgate instances connect NAME [--json]
  meowgate instances logout NAME [--json]

Every command also takes:
` + clientFlagsUsage

func cmdInstances(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	flags, cf := newClientFlagSet("instances "+sub, instancesUsage, getenv, stderr)
	var asJSON, connect bool
	var phone, deviceName string
	switch sub {
	case "list", "connect", "logout":
		flags.BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	case "create":
		flags.BoolVar(&asJSON, "json", false, "print the API's JSON answer")
		flags.BoolVar(&connect, "connect", false, "start the instance at once")
		flags.StringVar(&phone, "phone", "", "phone number (+E164)")
		flags.StringVar(&deviceName, "device-name", "", "device name shown on the phone")
	case "delete":
	case "help":
		fmt.Fprint(stdout, instancesUsage)
		return 0
	default:
		return usageError(stderr, instancesUsage, "unknown command \"instances %s\"", sub)
	}
	pos, code, ok := parseClientArgs(flags, args)
	if !ok {
		return code
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		if want == 0 {
			return usageError(stderr, instancesUsage, "instances list takes no arguments")
		}
		return usageError(stderr, instancesUsage, "instances %s needs exactly one NAME", sub)
	}
	c, err := cf.newClient(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 1
	}
	ic := instancesCmd{ctx: ctx, c: c, stdout: stdout, stderr: stderr, asJSON: asJSON}
	switch sub {
	case "list":
		return ic.list()
	case "create":
		return ic.create(client.CreateInstanceRequest{Name: pos[0], Connect: connect, Phone: phone, DeviceName: deviceName})
	case "delete":
		return ic.delete(pos[0])
	default: // connect, logout
		return ic.action(sub, pos[0])
	}
}

// instancesCmd runs one `meowgate instances` command.
type instancesCmd struct {
	ctx            context.Context
	c              *client.Client
	stdout, stderr io.Writer
	asJSON         bool // print the API's answer as it came
}

func (ic *instancesCmd) fail(err error) int { return fail(ic.ctx, ic.stderr, ic.c, err) }

// printJSON prints the answer of a request verbatim (--json).
func (ic *instancesCmd) printJSON(method, path string, body any) int {
	data, err := ic.c.Do(ic.ctx, method, path, body, nil)
	if err != nil {
		return ic.fail(err)
	}
	writeJSONLine(ic.stdout, data)
	return 0
}

func (ic *instancesCmd) list() int {
	if ic.asJSON {
		return ic.printJSON(http.MethodGet, "/v1/instances", nil)
	}
	list, err := ic.c.ListInstances(ic.ctx)
	if err != nil {
		return ic.fail(err)
	}
	if len(list) == 0 {
		fmt.Fprintln(ic.stdout, "no instances; create one with: meowgate instances create NAME")
		return 0
	}
	tw := tabwriter.NewWriter(ic.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPHONE")
	for _, in := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", in.Name, stateText(in.State, in.Reason), cmp.Or(in.Phone, "-"))
	}
	tw.Flush()
	return 0
}

func (ic *instancesCmd) create(req client.CreateInstanceRequest) int {
	if ic.asJSON {
		return ic.printJSON(http.MethodPost, "/v1/instances", &req)
	}
	created, err := ic.c.CreateInstance(ic.ctx, req)
	if err != nil {
		return ic.fail(err)
	}
	in := created.Instance
	fmt.Fprintf(ic.stdout, "created instance %s (id %s, state %s)\n", in.Name, in.ID, stateText(in.State, in.Reason))
	fmt.Fprintf(ic.stdout, "token: %s\n", created.Token)
	fmt.Fprintln(ic.stdout, "The token is shown only this once: it gives access to this instance's routes. Keep it safe.")
	if req.Connect {
		fmt.Fprintf(ic.stdout, "To link a phone, run: meowgate qr %s\n", in.Name)
	}
	return 0
}

func (ic *instancesCmd) delete(name string) int {
	if err := ic.c.DeleteInstance(ic.ctx, name); err != nil {
		return ic.fail(err)
	}
	fmt.Fprintf(ic.stdout, "%s: deleted\n", name)
	return 0
}

// action runs connect or logout.
func (ic *instancesCmd) action(sub, name string) int {
	if ic.asJSON {
		return ic.printJSON(http.MethodPost, "/v1/instances/"+url.PathEscape(name)+"/"+sub, nil)
	}
	do := ic.c.Connect
	if sub == "logout" {
		do = ic.c.Logout
	}
	in, err := do(ic.ctx, name)
	if err != nil {
		return ic.fail(err)
	}
	fmt.Fprintf(ic.stdout, "%s: %s\n", in.Name, stateText(in.State, in.Reason))
	if sub == "connect" && in.JID == "" {
		fmt.Fprintf(ic.stdout, "To link a phone, run: meowgate qr %s\n", in.Name)
	}
	return 0
}
