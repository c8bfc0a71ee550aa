package mail

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"
)

// defaultOutboxSize is how many messages an Outbox keeps when NewOutbox is
// given 0.
const defaultOutboxSize = 50

// Sent is a message the Outbox received.
type Sent struct {
	Message
	At time.Time
	// Links are the http(s) URLs found in the text body, in order.
	Links []string
}

// Outbox is the development Sender: it logs every message with its links
// and keeps the last ones in memory. It must not be used in production: the
// log then holds live single-use tokens. See the package documentation.
type Outbox struct {
	logger *slog.Logger
	size   int
	now    func() time.Time

	mu   sync.Mutex
	sent []Sent // oldest first, at most size
}

var _ Sender = (*Outbox)(nil)

// NewOutbox returns an outbox keeping the last size messages (0: 50).
// logger may be nil (messages are then only kept).
func NewOutbox(logger *slog.Logger, size int) *Outbox {
	if size <= 0 {
		size = defaultOutboxSize
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{logger: logger, size: size, now: time.Now}
}

// linkRE finds http(s) URLs in a text body.
var linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// Links returns the http(s) URLs in text, in order.
func Links(text string) []string { return linkRE.FindAllString(text, -1) }

// Send validates m, logs it (recipient, subject and links) and keeps it.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if _, err := m.validate(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	s := Sent{Message: m, At: o.now().UTC(), Links: Links(m.Text)}
	o.logger.InfoContext(ctx, "development outbox: mail not sent, configure SMTP to deliver it",
		"to", m.To, "subject", m.Subject, "links", s.Links, "text", m.Text)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, s)
	if len(o.sent) > o.size {
		o.sent = append([]Sent(nil), o.sent[len(o.sent)-o.size:]...)
	}
	return nil
}

// List returns the kept messages, newest first.
func (o *Outbox) List() []Sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Sent, len(o.sent))
	for i, s := range o.sent {
		out[len(out)-1-i] = s
	}
	return out
}
