package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// POST …/messages as multipart/form-data: the fields of the JSON body as
// form fields, the file in the part "file", which must come last. The file
// is never buffered: Send reads it straight from the request while it
// stages it, so a 100 MiB upload costs a copy buffer, not 100 MiB of
// memory (r.MultipartReader, not ParseMultipartForm). mentions and
// options are repeated fields, one item each; contacts is a JSON array.

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

func (h *handler) sendMultipart(w http.ResponseWriter, r *http.Request, c *caller) error {
	r.Body = http.MaxBytesReader(w, r.Body, h.messageLimit())
	mr, err := r.MultipartReader()
	if err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "malformed multipart body: %v", err)
	}
	f := form{seen: map[string]bool{}, problems: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadError(err)
		}
		name := part.FormName()
		if name != "file" {
			if err := f.set(name, part); err != nil {
				return err
			}
			continue
		}
		// Every field is known now; Send reads the rest of the body.
		if len(f.problems) > 0 {
			return invalidFields("some fields are invalid", f.problems)
		}
		p := f.p
		if p.FileName == "" {
			p.FileName = part.FileName()
		}
		if ct := part.Header.Get("Content-Type"); p.Mimetype == "" && ct != "" && ct != "application/octet-stream" {
			p.Mimetype = ct // what the client declared (curl guesses it from the extension)
		}
		up := &upload{part: part, mr: mr}
		p.File = up
		if err := h.send(w, r, c, p); err != nil {
			if up.err != nil {
				return up.err // the upload's own problem, however the Manager wrapped it
			}
			return err
		}
		return nil
	}
	if len(f.problems) > 0 {
		return invalidFields("some fields are invalid", f.problems)
	}
	if event.IsMedia(f.p.Type) && f.p.URL == "" && f.p.Base64 == "" {
		return invalidFields("some fields are invalid", map[string]string{
			"file": `is required: a multipart request carries the media in the part "file" (or give url or base64)`})
	}
	return h.send(w, r, c, f.p)
}

// form collects the fields before the file.
type form struct {
	p        instance.SendParams
	seen     map[string]bool
	problems map[string]string
}

// set reads one field into f.p; an unknown field is the 400 of a JSON
// body's, a bad value a problem (422 with the others).
func (f *form) set(name string, part *multipart.Part) error {
	b, err := io.ReadAll(part)
	if err != nil {
		return uploadError(err)
	}
	v := strings.ToValidUTF8(string(b), "\uFFFD") // as encoding/json does
	strs := map[string]*string{
		"to": &f.p.To, "type": &f.p.Type, "text": &f.p.Text, "reply_to": &f.p.ReplyTo, "send_at": &f.p.SendAt,
		"url": &f.p.URL, "base64": &f.p.Base64, "mimetype": &f.p.Mimetype, "caption": &f.p.Caption,
		"file_name": &f.p.FileName, "name": &f.p.Name, "address": &f.p.Address, "vcard": &f.p.VCard,
		"message_id": &f.p.MessageID, "question": &f.p.Question,
	}
	switch name {
	case "mentions":
		f.p.Mentions = append(f.p.Mentions, v)
		return nil
	case "options":
		f.p.Options = append(f.p.Options, v)
		return nil
	}
	if f.seen[name] {
		if _, known := strs[name]; known || isFormScalar(name) {
			f.problems[name] = "is given more than once"
			return nil
		}
	}
	f.seen[name] = true
	if dst, ok := strs[name]; ok {
		*dst = v
		return nil
	}
	switch name {
	case "emoji":
		f.p.Emoji = &v // "" is given: it removes the reaction
	case "ptt", "view_once":
		bv, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			f.problems[name] = "must be true or false"
		} else if name == "ptt" {
			f.p.PTT = bv
		} else {
			f.p.ViewOnce = bv
		}
	case "latitude", "longitude":
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			f.problems[name] = "must be a number"
		} else if name == "latitude" {
			f.p.Latitude = &x
		} else {
			f.p.Longitude = &x
		}
	case "selectable":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			f.problems[name] = "must be an integer"
		}
		f.p.Selectable = n
	case "contacts":
		var cs []contactJSON
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cs); err != nil || dec.More() {
			f.problems[name] = `must be a JSON array of {"name","phone"} objects`
			return nil
		}
		f.p.Contacts = make([]event.Contact, len(cs))
		for i, c := range cs {
			f.p.Contacts[i] = event.Contact{Name: c.Name, Phone: c.Phone}
		}
	default:
		if name == "" {
			return errorf(http.StatusBadRequest, codeBadRequest, "a multipart part without a form name")
		}
		return errUnknownField(name)
	}
	return nil
}

func isFormScalar(name string) bool {
	switch name {
	case "emoji", "ptt", "view_once", "latitude", "longitude", "selectable", "contacts":
		return true
	}
	return false
}

// upload is the file part as Send reads it. At the part's end it checks
// that nothing follows: a field after the file would come too late, as the
// message is queued with what came before it.
type upload struct {
	part *multipart.Part
	mr   *multipart.Reader
	err  error // the first error, an *Error
	eof  bool
}

func (u *upload) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.eof {
		return 0, io.EOF
	}
	n, err := u.part.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		next, nerr := u.mr.NextPart()
		switch {
		case errors.Is(nerr, io.EOF):
			u.eof = true
			return n, io.EOF
		case nerr == nil:
			u.err = invalidFields("the file part must come last", map[string]string{
				"file": fmt.Sprintf("must be the last part: send every field before the file (%q came after it)", next.FormName())})
		default:
			u.err = uploadError(nerr)
		}
		return n, u.err
	case err != nil:
		u.err = uploadError(err)
		return n, u.err
	}
	return n, nil
}

// uploadError words a failure to read a multipart body.
func uploadError(err error) *Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body is larger than %d bytes", mbe.Limit)
	}
	return errorf(http.StatusBadRequest, codeBadRequest, "cannot read the multipart body: %v", err)
}
