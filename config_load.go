package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// LoadConfig builds the configuration from the defaults, then the TOML file
// at path (none if path is ""; a missing file is an error), then the
// MEOWGATE_* environment variables read through getenv. It does not
// validate: the caller applies its flags and then calls Validate.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := DefaultConfig(getenv)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeConfig(path, data, cfg); err != nil {
			return nil, err
		}
		cfg.origin = map[string]string{}
		walkKeys(data, func(key string, line int, _ *unstable.Node, _ *unstable.Parser) bool {
			cfg.origin[key] = fmt.Sprintf("%s:%d", path, line)
			return false
		})
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeConfig decodes data strictly into cfg, turning go-toml's errors into
// "file:line: key: problem" lines.
func decodeConfig(name string, data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}

	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			line, _ := e.Position()
			key := strings.Join(e.Key(), ".")
			what := "key"
			if strings.HasSuffix(e.Error(), "missing table") {
				what = "table"
			}
			msg := fmt.Sprintf("%s:%d: unknown %s %q", name, line, what, key)
			if s := suggestKey(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, errors.New(msg))
		}
		return errors.Join(errs...)
	}

	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := friendlyTypeError(strings.TrimPrefix(de.Error(), "toml: "))
		// Some messages name the key already ("key listen is already defined").
		if key := strings.Join(de.Key(), "."); key != "" && !strings.HasPrefix(msg, "key ") {
			return fmt.Errorf("%s:%d: %s: %s", name, line, key, msg)
		}
		return fmt.Errorf("%s:%d: %s", name, line, msg)
	}

	// go-toml passes a non-string value to Duration.UnmarshalText without
	// saying where it was; find the offending key ourselves.
	if key, line, got, ok := findNonStringDuration(data); ok {
		return fmt.Errorf("%s:%d: %s: want a duration string such as \"30s\", got %s", name, line, key, got)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// friendlyTypeError rewrites go-toml's type mismatch, which names Go types,
// into TOML terms.
func friendlyTypeError(msg string) string {
	// The message is "cannot decode TOML <kind> into <target> of type <T>".
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	i := strings.LastIndex(rest, " of type ")
	if !ok || i < 0 {
		return msg
	}
	got, _, _ := strings.Cut(rest, " ")
	want := "a table"
	switch rest[i+len(" of type "):] {
	case "string":
		want = "a string"
	case "bool":
		want = "true or false"
	case "int", "int64", "int32":
		want = "an integer"
	case "float64", "float32":
		want = "a number"
	case reflect.TypeFor[Duration]().String():
		want = `a duration string such as "30s"`
	}
	return fmt.Sprintf("want %s, got a TOML %s", want, got)
}

// findNonStringDuration returns the first key of a Duration field whose value
// in the document is not a string.
func findNonStringDuration(data []byte) (key string, line int, got string, ok bool) {
	durations := map[string]bool{}
	for _, k := range configKeys() {
		if k.typ == reflect.TypeFor[Duration]() {
			durations[k.name()] = true
		}
	}
	walkKeys(data, func(k string, l int, v *unstable.Node, p *unstable.Parser) bool {
		if !durations[k] || v.Kind == unstable.String {
			return false
		}
		key, line, ok = k, l, true
		got = strings.ToLower(v.Kind.String()) + " " + string(p.Raw(v.Raw))
		return true
	})
	return key, line, got, ok
}

// walkKeys calls fn with every key-value of a TOML document (dotted key,
// line, value; inline tables descended into) until fn returns true.
func walkKeys(data []byte, fn func(key string, line int, v *unstable.Node, p *unstable.Parser) bool) {
	var p unstable.Parser
	p.Reset(data)
	var visit func(prefix []string, kv *unstable.Node) bool
	visit = func(prefix []string, kv *unstable.Node) bool {
		path := append(append([]string(nil), prefix...), keyParts(kv)...)
		v := kv.Value()
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if it.Node().Kind == unstable.KeyValue && visit(path, it.Node()) {
					return true
				}
			}
			return false
		}
		it := kv.Key()
		it.Next()
		return fn(strings.Join(path, "."), p.Shape(it.Node().Raw).Start.Line, v, &p)
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e)
		case unstable.KeyValue:
			if visit(table, e) {
				return
			}
		}
	}
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	for it := n.Key(); it.Next(); {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// suggestKey returns the known key or section closest to an unknown one, if
// it is close enough to be a typo.
func suggestKey(unknown string) string {
	// Longer names tolerate more typos: 2 edits for "listn", 3 for "send_delay".
	last := unknown[strings.LastIndexByte(unknown, '.')+1:]
	best, bestDist := "", 2+len(last)/4
	seen := map[string]bool{}
	for _, k := range configKeys() {
		for i := range k.path {
			cand := strings.Join(k.path[:i+1], ".")
			if seen[cand] {
				continue
			}
			seen[cand] = true
			if d := editDistance(unknown, cand); d < bestDist {
				best, bestDist = cand, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// applyEnv overrides c with every MEOWGATE_* variable that is set and not
// empty. An empty variable counts as unset.
func (c *Config) applyEnv(getenv func(string) string) error {
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, k := range configKeys() {
		name := k.envName()
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setFromString(root.FieldByIndex(k.index), raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if c.origin == nil {
			c.origin = map[string]string{}
		}
		c.origin[k.name()] = "$" + name
	}
	// api.admin_key_file is the _FILE form of api.admin_key (its variable is
	// MEOWGATE_API_ADMIN_KEY_FILE), so whichever of the two the environment
	// sets replaces both values from the file. Both set is left to Validate.
	keyEnv := getenv(envPrefix+"API_ADMIN_KEY") != ""
	fileEnv := getenv(envPrefix+"API_ADMIN_KEY_FILE") != ""
	if keyEnv && !fileEnv {
		c.API.AdminKeyFile = ""
	}
	if fileEnv && !keyEnv {
		c.API.AdminKey = ""
	}
	return errors.Join(errs...)
}

// setFromString parses s into the leaf v.
func setFromString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported config type %s", v.Type())
	}
	return nil
}
