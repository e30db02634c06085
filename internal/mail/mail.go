// Package mail renders and delivers the emails Auther sends: email
// verification, password reset, magic links, one-time codes and email-change
// confirmations.
//
// Two senders implement [Sender]: [SMTPSender] delivers through an SMTP
// relay (one fresh connection per message), [DirSender] writes .eml files
// into a folder for development. [Templates] renders subject, plain text and
// HTML for each kind of message from embedded templates that an operator can
// override file by file.
//
// Errors: a Sender's error is either permanent ([IsPermanent] reports true;
// retrying cannot help, e.g. the relay answered 5xx) or transient (anything
// else; the caller retries later).
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email. ID is a stable id (the outbox row id) used as the
// Message-ID local part and in logs.
type Message struct {
	ID      string
	To      string
	Subject string
	Text    string // plain-text body
	HTML    string // HTML body ("" = text only)
}

// Sender delivers one message. A returned error that IsPermanent(err) reports
// true for must not be retried (e.g. SMTP 5xx: mailbox unavailable, auth
// failed permanently); any other error is transient (connection refused,
// timeouts, 4xx) and will be retried by the caller.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent wraps err so that IsPermanent reports true for it.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (or an error it wraps) is a permanent
// delivery failure that must not be retried. It is false for nil.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// safeID reduces an id to characters that are safe both in a Message-ID
// local part (RFC 5322 dot-atom text) and in a file name.
func safeID(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 128 {
			break
		}
	}
	return strings.TrimRight(b.String(), ".")
}

// addrDomain returns the domain of an address, or "localhost".
func addrDomain(a *netmail.Address) string {
	if i := strings.LastIndexByte(a.Address, '@'); i >= 0 && i < len(a.Address)-1 {
		return a.Address[i+1:]
	}
	return "localhost"
}

// errBadRecipient wraps a To address that does not parse.
var errBadRecipient = errors.New("mail: invalid recipient address")

// buildMsg turns m into a go-mail message from the given sender. An error
// means the message itself is unusable (bad recipient).
func buildMsg(from *netmail.Address, m Message, now time.Time) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", errBadRecipient, m.To, err)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(now)
	if id := safeID(m.ID); id != "" {
		msg.SetMessageIDWithValue(id + "@" + addrDomain(from))
	} else {
		msg.SetMessageID()
	}
	// RFC 3834: keeps vacation responders from answering a machine.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// render returns the RFC 5322 bytes of msg.
func render(msg *gomail.Msg) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
