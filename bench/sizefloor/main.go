// Command sizefloor is the binary-size floor for meowgate: the smallest
// program that links a whatsmeow client over a modernc SQLite device store.
// bench/run.sh builds it with meowgate's release flags; it is never run.
package main

import (
	"context"
	"database/sql"
	"os"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite"
)

func main() {
	db, err := sql.Open("sqlite", os.Args[1])
	if err != nil {
		panic(err)
	}
	c := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	if err := c.Upgrade(context.Background()); err != nil {
		panic(err)
	}
	cli := whatsmeow.NewClient(c.NewDevice(), waLog.Noop)
	if err := cli.Connect(); err != nil {
		panic(err)
	}
}
