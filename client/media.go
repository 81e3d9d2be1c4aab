package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/meowgate/meowgate/event"
)

// Message types (the Type of a SendRequest and of a Message).
const (
	MsgText     = event.MsgText
	MsgImage    = event.MsgImage
	MsgVideo    = event.MsgVideo
	MsgAudio    = event.MsgAudio
	MsgDocument = event.MsgDocument
	MsgSticker  = event.MsgSticker
	MsgLocation = event.MsgLocation
	MsgContact  = event.MsgContact
	MsgReaction = event.MsgReaction
	MsgPoll     = event.MsgPoll
)

// Content of messages, as the message object shows it.
type (
	Media      = event.Media
	Location   = event.Location
	Contact    = event.Contact
	Reaction   = event.Reaction
	Poll       = event.Poll
	PollOption = event.PollOption
	ReactionBy = event.ReactionBy
)

// SendFile queues a media message whose file is read from file and
// uploaded as multipart/form-data: r's fields first, then the file in the
// part "file" (the server wants it last). The file is streamed, never held
// in memory, and the upload is bounded by ctx only. fileName names the
// part's file (the server takes it as the file name unless r.FileName is
// set); r.Mimetype, if set, is the part's Content-Type, else the server
// sniffs the type. r.URL and r.Base64 must be empty. The Idempotency-Key
// is sent as Send does.
func (c *Client) SendFile(ctx context.Context, name string, r SendRequest, fileName string, file io.Reader) (*Message, error) {
	fields, err := formFields(&r)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeForm(mw, fields, fileName, r.Mimetype, file))
	}()
	// Whatever happens to the request, the writer stops: a read of the
	// file may still block, but no write into the pipe does.
	defer pr.Close()
	return c.postMessage(ctx, call{method: http.MethodPost, path: instancePath(name, "/messages"), body: pr,
		contentType: mw.FormDataContentType(), idemKey: r.IdempotencyKey, long: true})
}

// writeForm writes the fields, then the file part, and closes the form.
func writeForm(mw *multipart.Writer, fields [][2]string, fileName, mimetype string, file io.Reader) error {
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(fileName)))
	if mimetype == "" {
		mimetype = "application/octet-stream" // the server sniffs it
	}
	h.Set("Content-Type", mimetype)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, file); err != nil {
		return fmt.Errorf("reading the file: %w", err)
	}
	return mw.Close()
}

// quoteEscaper escapes a file name as mime/multipart does.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

// formFields is r as multipart form fields, in the wire's text form:
// numbers in decimal, booleans true, mentions and options repeated,
// contacts one JSON array.
func formFields(r *SendRequest) ([][2]string, error) {
	if r.URL != "" || r.Base64 != "" {
		return nil, fmt.Errorf("meowgate: SendFile takes the file, not url or base64")
	}
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("to", r.To)
	add("type", r.Type)
	add("text", r.Text)
	add("reply_to", r.ReplyTo)
	add("send_at", r.SendAt)
	for _, m := range r.Mentions {
		out = append(out, [2]string{"mentions", m})
	}
	add("mimetype", r.Mimetype)
	add("caption", r.Caption)
	add("file_name", r.FileName)
	if r.PTT {
		add("ptt", "true")
	}
	if r.ViewOnce {
		add("view_once", "true")
	}
	if r.Latitude != nil {
		add("latitude", strconv.FormatFloat(*r.Latitude, 'f', -1, 64))
	}
	if r.Longitude != nil {
		add("longitude", strconv.FormatFloat(*r.Longitude, 'f', -1, 64))
	}
	add("name", r.Name)
	add("address", r.Address)
	if len(r.Contacts) > 0 {
		b, err := json.Marshal(r.Contacts)
		if err != nil {
			return nil, fmt.Errorf("meowgate: encoding contacts: %w", err)
		}
		add("contacts", string(b))
	}
	add("vcard", r.VCard)
	add("message_id", r.MessageID)
	if r.Emoji != nil {
		out = append(out, [2]string{"emoji", *r.Emoji}) // "" is a value: it removes the reaction
	}
	add("question", r.Question)
	for _, o := range r.Options {
		out = append(out, [2]string{"options", o})
	}
	if r.Selectable != 0 {
		add("selectable", strconv.Itoa(r.Selectable))
	}
	return out, nil
}

// EditMessage edits a text message of the instance: a queued one in
// place, a sent one on WhatsApp (within WhatsApp's edit window). Anything
// else is 409 not_editable.
func (c *Client) EditMessage(ctx context.Context, name, id, text string) (*Message, error) {
	in := struct {
		Text string `json:"text"`
	}{text}
	var out messageBody
	if _, err := c.do(ctx, call{method: http.MethodPatch, path: instancePath(name, "/messages/", url.PathEscape(id)), in: &in, out: &out}); err != nil {
		return nil, err
	}
	return &out.Message, nil
}

// RevokeMessage revokes a sent message for everyone (forEveryone), or
// cancels a message still queued (!forEveryone).
func (c *Client) RevokeMessage(ctx context.Context, name, id string, forEveryone bool) (*Message, error) {
	path := instancePath(name, "/messages/", url.PathEscape(id))
	if forEveryone {
		path += "?for_everyone=true"
	}
	var out messageBody
	if _, err := c.do(ctx, call{method: http.MethodDelete, path: path, out: &out}); err != nil {
		return nil, err
	}
	return &out.Message, nil
}

// Media streams the file of a media message (sent or received) and returns
// it with its content type; the caller closes it. A message without a file
// is 404 not_found. The download is bounded by ctx only.
func (c *Client) Media(ctx context.Context, name, id string) (io.ReadCloser, string, error) {
	k := call{method: http.MethodGet, path: instancePath(name, "/messages/", url.PathEscape(id), "/media"), long: true}
	resp, err := c.roundTrip(ctx, k)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return nil, "", decodeError(resp, data)
	}
	return resp.Body, resp.Header.Get("Content-Type"), nil
}
