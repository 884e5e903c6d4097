package chat

import (
	"unicode/utf8"

	"microtask/internal/apperr"
)

// Bounds of a message. The service checks them; the API's request
// validation (httpapi's sendMessageRequest tags) repeats them for the
// contract.
const (
	MaxTextLen     = 5000
	MaxAttachments = 5
	MaxURLLen      = 2048
)

// Images tells whether a URL is of an image this server keeps or its image
// host took; upload.Service implements it.
type Images interface {
	Kept(url string) bool
}

// Draft is a message as its sender writes it.
type Draft struct {
	Text        string // trimmed by Send
	About       Ref
	Attachments []string
}

// check checks a draft's bounds: text of 1 to MaxTextLen characters, at
// most MaxAttachments images of this server or its image host, and a known
// kind of reference.
func (d Draft) check(images Images) apperr.Fields {
	var errs apperr.Fields
	errs.Text("text", d.Text, MaxTextLen)
	if len(d.Attachments) > MaxAttachments {
		errs.Add("attachments", "must have at most %d items", MaxAttachments)
	}
	for _, u := range d.Attachments {
		if utf8.RuneCountInString(u) > MaxURLLen || !images.Kept(u) {
			errs.Add("attachments", "must be images uploaded here (POST /api/uploads)")
			break
		}
	}
	switch d.About.Type {
	case "", AboutTask, AboutSubmission, AboutUser, AboutJob, AboutContract:
	default:
		errs.Add("about", "must name one of: "+aboutNames)
	}
	if !d.About.IsZero() && d.About.ID == "" {
		errs.Add("about", "must name one of: "+aboutNames)
	}
	return errs
}
