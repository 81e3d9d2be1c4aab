//go:build !benchpprof

package main

func startPprof() {}
