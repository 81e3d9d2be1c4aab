package main

import (
	"context"
	"fmt"
	"io"
)

// The local API client commands; see cli.go for the full implementation.
func cmdInstances(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "meowgate instances: not implemented yet")
	return 2
}

func cmdQR(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "meowgate qr: not implemented yet")
	return 2
}
