package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// AdminKey returns the admin key and where it came from, for the log:
// "config" (api.admin_key, from the file or the environment),
// "file <path>" (api.admin_key_file, or an existing <state dir>/admin.key), or
// "generated <path>" when none was set and a new key was just written.
func (c *Config) AdminKey() (key, source string, err error) {
	return c.adminKey(true)
}

// ExistingAdminKey is AdminKey without generating one: the CLI client reads
// the key the way the server does, but must not invent a key the server
// does not know.
func (c *Config) ExistingAdminKey() (key, source string, err error) {
	return c.adminKey(false)
}

func (c *Config) adminKey(create bool) (key, source string, err error) {
	if c.API.AdminKey != "" {
		return c.API.AdminKey, "config", nil
	}
	if p := c.API.AdminKeyFile; p != "" {
		key, err := readKeyFile(p)
		if err != nil {
			return "", "", fmt.Errorf("api.admin_key_file: %w", err)
		}
		return key, "file " + p, nil
	}
	dir := c.StateDir()
	path := filepath.Join(dir, adminKeyFileName)
	if !create {
		key, err := ReadAdminKey(dir)
		if err != nil {
			return "", "", err
		}
		return key, "file " + path, nil
	}
	key, created, err := ReadOrCreateAdminKey(dir)
	if err != nil {
		return "", "", err
	}
	if created {
		return key, "generated " + path, nil
	}
	if len(key) < MinAdminKeyLen {
		return "", "", fmt.Errorf("%s: the admin key must be at least %d characters (it has %d); delete the file to have a new one generated", path, MinAdminKeyLen, len(key))
	}
	return key, "file " + path, nil
}

// readKeyFile returns the trimmed content of a file holding one key; it is
// an error for the file to hold nothing.
func readKeyFile(path string) (string, error) {
	key, err := readTrimmed(path)
	if err == nil && key == "" {
		err = fmt.Errorf("%s is empty", path)
	}
	return key, err
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// ReadAdminKey reads <dir>/admin.key without ever creating it. A missing
// file gives an error that matches fs.ErrNotExist.
func ReadAdminKey(dir string) (string, error) {
	key, err := readKeyFile(filepath.Join(dir, adminKeyFileName))
	if err != nil {
		return "", fmt.Errorf("admin key: %w", err)
	}
	return key, nil
}

// ReadOrCreateAdminKey reads <dir>/admin.key, or, if there is none, writes a
// new random key there (32 bytes, hex; mode 0600, dir created 0700) and
// reports created.
func ReadOrCreateAdminKey(dir string) (key string, created bool, err error) {
	path := filepath.Join(dir, adminKeyFileName)
	key, err = readTrimmed(path)
	switch {
	case err == nil && key != "":
		return key, false, nil
	case err == nil:
		// An empty file (a truncated write, a stray touch) holds no key that
		// anyone can use: replace it.
		if err := os.Remove(path); err != nil {
			return "", false, fmt.Errorf("admin key: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("admin key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	key = hex.EncodeToString(b)
	won, err := writeNewFile(path, []byte(key+"\n"))
	if err != nil {
		return "", false, fmt.Errorf("admin key: %w", err)
	}
	if !won {
		// Another process created it first: use theirs.
		key, err = ReadAdminKey(dir)
		return key, false, err
	}
	return key, true, nil
}

// writeNewFile writes data to path (mode 0600) only if path does not exist,
// and never leaves a partly written file there: the content goes to a temp
// file that is then hard-linked into place. won is false if path already
// existed.
func writeNewFile(path string, data []byte) (won bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		// Some filesystems have no hard links; a rename is atomic too, at the
		// cost of losing a (very unlikely) race with another creator.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return false, err
		}
	}
	return true, nil
}
