package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/auther/auther/internal/mail/mailtest"
)

// fakeOpts configures a go-smtp server with behaviour mailtest does not
// offer: AUTH, STARTTLS, implicit TLS and scripted RCPT replies.
type fakeOpts struct {
	startTLS     *tls.Config     // offer STARTTLS with this config
	implicitTLS  *tls.Config     // wrap the listener in TLS
	user, pass   string          // require AUTH PLAIN with these credentials
	insecureAuth bool            // offer AUTH on unencrypted connections
	rcptErr      *smtp.SMTPError // answer every RCPT TO with this
}

type fakeServer struct {
	host string
	port int

	mu     sync.Mutex
	msgs   []mailtest.Received
	authed []string // usernames that authenticated
	tlsed  []bool   // per message: was the connection encrypted
}

func startFake(t *testing.T, o fakeOpts) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	f := &fakeServer{host: addr.IP.String(), port: addr.Port}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &fakeSession{f: f, o: o, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = o.insecureAuth
	srv.TLSConfig = o.startTLS
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if o.implicitTLS != nil {
		ln = tls.NewListener(ln, o.implicitTLS)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close() // in case Serve has not registered it yet
		<-done
	})
	return f
}

func (f *fakeServer) messages() []mailtest.Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mailtest.Received(nil), f.msgs...)
}

type fakeSession struct {
	f      *fakeServer
	o      fakeOpts
	c      *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *fakeSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *fakeSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.o.user || password != s.o.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		s.f.mu.Lock()
		s.f.authed = append(s.f.authed, username)
		s.f.mu.Unlock()
		return nil
	}), nil
}

func (s *fakeSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.o.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.o.rcptErr != nil {
		return s.o.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := mailtest.Received{From: s.from, To: s.to, Data: data}
	rec.Subject, rec.Text = mailtest.Decode(data)
	_, encrypted := s.c.TLSConnectionState()
	s.f.mu.Lock()
	s.f.msgs = append(s.f.msgs, rec)
	s.f.tlsed = append(s.f.tlsed, encrypted)
	s.f.mu.Unlock()
	return nil
}

func (s *fakeSession) Reset() { s.from, s.to = "", nil }

func (s *fakeSession) Logout() error { return nil }

// selfSigned returns a server TLS config with a fresh in-memory certificate
// for 127.0.0.1 and localhost.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

// hangingServer accepts connections and never answers (no greeting).
func hangingServer(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	addr := ln.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port
}
