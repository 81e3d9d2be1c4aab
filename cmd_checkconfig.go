package main

import (
	"fmt"
	"io"
)

func cmdCheckConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", stderr)
	path := fs.String("config", defaultConfigPath(getenv), "config file")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, err := LoadConfig(*path, getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: invalid configuration:\n%v\n", err)
		return 1
	}
	src := *path
	if src == "" {
		src = "defaults and environment"
	}
	fmt.Fprintf(stdout, "configuration OK (%s)\n", src)
	return 0
}
