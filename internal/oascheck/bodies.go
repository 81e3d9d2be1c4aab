package oascheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// bodies validates JSON bodies with schemas compiled once each.
// kin-openapi's JSON Schema 2020-12 path compiles the schema again on every
// VisitJSON call (milliseconds a call, ten times that under -race), so the
// bodies, which are most of the work, go straight to the validator it uses.
type bodies struct {
	raw any // the document, as the validator decodes JSON

	mu       sync.Mutex // the compiler is not safe for concurrent use
	c        *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema // by JSON pointer
}

const docURL = "file:///openapi.json"

func newBodies(data []byte) (*bodies, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020) // the document's jsonSchemaDialect, without the OAS annotations
	c.AssertFormat()                     // date-time and uri values are checked too
	if err := c.AddResource(docURL, raw); err != nil {
		return nil, err
	}
	return &bodies{raw: raw, c: c, compiled: map[string]*jsonschema.Schema{}}, nil
}

// validate checks the JSON body against the schema at ptr.
func (b *bodies) validate(ptr string, body []byte) error {
	sch, err := b.schema(ptr)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v: %s", err, clip(body))
	}
	if err := sch.Validate(v); err != nil {
		// One line per failing keyword; kept on one line in test output.
		msg := strings.TrimSpace(err.Error())
		if _, rest, ok := strings.Cut(msg, "\n"); ok {
			msg = rest
		}
		return fmt.Errorf("against %s: %s", ptr, strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ;")), " "))
	}
	return nil
}

func (b *bodies) schema(ptr string) (*jsonschema.Schema, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.compiled[ptr]; ok {
		return s, nil
	}
	s, err := b.c.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", ptr, err)
	}
	b.compiled[ptr] = s
	return s, nil
}

// mediaSchema returns the pointer of the schema of media type key under the
// request body or response at ptr, following a $ref to a component.
func (b *bodies) mediaSchema(ptr, key string) (string, error) {
	ptr, err := b.follow(ptr)
	if err != nil {
		return "", err
	}
	ptr += "/content/" + escape(key) + "/schema"
	if _, err := b.at(ptr); err != nil {
		return "", err
	}
	return ptr, nil
}

// follow resolves a Reference Object at ptr to where it points.
func (b *bodies) follow(ptr string) (string, error) {
	for range 8 {
		n, err := b.at(ptr)
		if err != nil {
			return "", err
		}
		ref, ok := n.(map[string]any)["$ref"].(string)
		if !ok {
			return ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return "", fmt.Errorf("%s: $ref %q is not within the document", ptr, ref)
		}
		ptr = ref[1:]
	}
	return "", fmt.Errorf("%s: $ref chain too long", ptr)
}

// at returns the node at a JSON pointer of the document.
func (b *bodies) at(ptr string) (any, error) {
	n := b.raw
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := n.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no %s in the document", ptr)
		}
		if n, ok = m[tok]; !ok {
			return nil, fmt.Errorf("no %s in the document", ptr)
		}
	}
	return n, nil
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// checkForm checks a multipart/form-data body against the object schema at
// ptr: well-formed, every part named by a property, and the required ones
// there. Values are not checked: on the wire they are all text.
func (b *bodies) checkForm(ptr, boundary string, body []byte) error {
	ptr, err := b.follow(ptr) // the schema may be a $ref to a component
	if err != nil {
		return err
	}
	n, err := b.at(ptr)
	if err != nil {
		return err
	}
	sch, _ := n.(map[string]any)
	props, _ := sch["properties"].(map[string]any)
	seen := map[string]bool{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("multipart body: %w", err)
		}
		name := part.FormName()
		if _, ok := props[name]; !ok {
			return fmt.Errorf("multipart body: part %q is not a property of %s", name, ptr)
		}
		if _, err := io.Copy(io.Discard, part); err != nil {
			return fmt.Errorf("multipart body: part %q: %w", name, err)
		}
		seen[name] = true
	}
	req, _ := sch["required"].([]any)
	for _, r := range req {
		if name, _ := r.(string); !seen[name] {
			return fmt.Errorf("multipart body: required part %q is missing", name)
		}
	}
	return nil
}
