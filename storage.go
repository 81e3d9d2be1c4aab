package main

import (
	"fmt"

	"github.com/meowgate/meowgate/store"
)

// storageStatus is the STATUS= suffix while the disk is (almost) full.
func storageStatus(sp store.Space) string {
	if !sp.Full {
		return ""
	}
	return fmt.Sprintf(", STORAGE FULL (%d MB free, %d MB needed): new work refused", sp.Free>>20, sp.MinFree>>20)
}
