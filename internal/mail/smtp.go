package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig configures SMTPSender.
type SMTPConfig struct {
	Host     string
	Port     int    // 0 = 587 for starttls, 465 for tls, 25 for none
	TLS      string // "starttls" (default: STARTTLS required), "tls" (implicit TLS), "none" (plain; for local relays and tests)
	Username string // empty = no AUTH
	Password string
	From     string        // RFC 5322 address, e.g. "Auther <no-reply@example.com>"
	Timeout  time.Duration // per message; 0 = 15s
	// InsecureSkipVerify only for tests with self-signed certs.
	InsecureSkipVerify bool
}

// SMTPSender delivers messages through an SMTP relay, opening one connection
// per message. It is safe for concurrent use.
//
// Error classification: an SMTP reply with a 5xx code (to MAIL, RCPT, DATA,
// AUTH, EHLO or STARTTLS) and a recipient address that does not parse are
// permanent. Everything else is transient: connection refused or reset,
// timeouts, context cancellation, 4xx replies, TLS handshake or certificate
// failures, and a relay that does not offer STARTTLS when TLS is "starttls"
// or does not offer AUTH when a Username is set. The last ones are
// configuration problems, not properties of the message: treating them as
// transient keeps queued mail until an operator fixes the relay or the
// settings, instead of dropping it.
type SMTPSender struct {
	host     string
	port     int
	mode     string
	username string
	password string
	from     *netmail.Address
	timeout  time.Duration
	tls      *tls.Config
}

const defaultSMTPTimeout = 15 * time.Second

// NewSMTPSender validates c and returns a sender. It does not connect.
func NewSMTPSender(c SMTPConfig) (*SMTPSender, error) {
	if c.Host == "" {
		return nil, errors.New("mail: smtp host is empty")
	}
	mode := c.TLS
	if mode == "" {
		mode = "starttls"
	}
	port := c.Port
	switch mode {
	case "starttls":
		if port == 0 {
			port = 587
		}
	case "tls":
		if port == 0 {
			port = 465
		}
	case "none":
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf("mail: smtp tls %q: want starttls, tls or none", c.TLS)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("mail: smtp port %d out of range", c.Port)
	}
	if c.From == "" {
		return nil, errors.New("mail: smtp from address is empty")
	}
	from, err := netmail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp from address %q: %w", c.From, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("mail: smtp timeout %s is negative", c.Timeout)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = defaultSMTPTimeout
	}
	return &SMTPSender{
		host:     c.Host,
		port:     port,
		mode:     mode,
		username: c.Username,
		password: c.Password,
		from:     from,
		timeout:  timeout,
		tls: &tls.Config{
			ServerName:         c.Host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // documented as tests only
		},
	}, nil
}

// Send delivers m as multipart/alternative (text and, when m.HTML is set,
// HTML) over a fresh connection. It returns when the relay accepted the
// message (250 after DATA), ctx is done, or the per-message timeout passed.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := buildMsg(s.from, m, time.Now())
	if err != nil {
		return permanent(err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	// go-mail bounds each SMTP command by its own timeout but watches the
	// context only while dialing; closing the connection when ctx ends makes
	// any command in flight fail at once.
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
	})
	defer stop()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		d := &net.Dialer{}
		if s.mode == "tls" {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			_ = conn.Close()
			return nil, context.Cause(ctx)
		}
		conns = append(conns, conn)
		return conn, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(dial),
	}
	switch s.mode {
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		// The dialer did the handshake; go-mail must not try STARTTLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.username != "" {
		opts = append(opts, gomail.WithUsername(s.username), gomail.WithPassword(s.password))
		if s.mode == "none" {
			// Plain connections are for local relays and tests; the operator
			// chose to send credentials in the clear.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		}
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}

	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The relay took responsibility (250 after DATA); a failure of the
		// following RSET or QUIT must not cause a duplicate by a retry.
		return nil
	}
	if err == nil {
		return errors.New("mail: smtp: message not delivered")
	}
	err = fmt.Errorf("mail: send %s to %s:%d: %w", m.ID, s.host, s.port, err)
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	if code := smtpCode(err); code >= 500 && code <= 599 {
		return permanent(err)
	}
	return err
}

// smtpCode digs the SMTP reply code out of a go-mail error, or returns 0.
func smtpCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
