package main

import (
	"fmt"
	"io"

	"github.com/meowgate/meowgate/store"
)

// storageStatus is the STATUS= suffix while the disk is (almost) full.
func storageStatus(sp store.Space) string {
	if !sp.Full {
		return ""
	}
	return fmt.Sprintf(", STORAGE FULL (%d MB free, %d MB needed): new work refused", sp.Free>>20, sp.MinFree>>20)
}

// writeStorageMetrics writes the free-space gauges.
func writeStorageMetrics(w io.Writer, sp store.Space) {
	full := 0
	if sp.Full {
		full = 1
	}
	fmt.Fprintln(w, "# HELP meowgate_storage_free_bytes Free bytes on the database's filesystem.")
	fmt.Fprintln(w, "# TYPE meowgate_storage_free_bytes gauge")
	fmt.Fprintf(w, "meowgate_storage_free_bytes %d\n", sp.Free)
	fmt.Fprintln(w, "# HELP meowgate_storage_min_free_bytes The free-space watermark below which new work is refused.")
	fmt.Fprintln(w, "# TYPE meowgate_storage_min_free_bytes gauge")
	fmt.Fprintf(w, "meowgate_storage_min_free_bytes %d\n", sp.MinFree)
	fmt.Fprintln(w, "# HELP meowgate_storage_full 1 while new work is refused for lack of disk space.")
	fmt.Fprintln(w, "# TYPE meowgate_storage_full gauge")
	fmt.Fprintf(w, "meowgate_storage_full %d\n", full)
}
