package browsertest

import (
	"context"
	"regexp"
	"strings"
	"sync"

	"github.com/auther/auther/internal/mail"
)

// Mailbox is a mail.Sender that keeps every message in memory, for tools
// that need the links Auther mails without an SMTP server.
type Mailbox struct {
	mu      sync.Mutex
	msgs    []mail.Message
	changed chan struct{}
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox { return &Mailbox{changed: make(chan struct{})} }

// Send implements mail.Sender.
func (m *Mailbox) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	close(m.changed)
	m.changed = make(chan struct{})
	return nil
}

// WaitFor waits for the n-th message (1-based) and returns it.
func (m *Mailbox) WaitFor(ctx context.Context, n int) (mail.Message, error) {
	for {
		m.mu.Lock()
		msgs, changed := m.msgs, m.changed
		m.mu.Unlock()
		if len(msgs) >= n {
			return msgs[n-1], nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return mail.Message{}, ctx.Err()
		}
	}
}

// Count is the number of messages received so far.
func (m *Mailbox) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// FirstLink returns the first http(s) link in a mail's text, or "".
func FirstLink(text string) string {
	return strings.TrimRight(linkRE.FindString(text), ".,)")
}
