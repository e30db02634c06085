package mail

import (
	"context"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// dirFrom is the sender address of messages written by DirSender.
var dirFrom = &netmail.Address{Name: "Auther", Address: "no-reply@localhost"}

// DirSender is the development sender: writes each message as an RFC 5322
// .eml file into Dir (created 0700, files 0600, named
// "<unix-nanos>-<ID>.eml") and logs one line at info level with the
// recipient, subject, file path and the plain-text body (so a developer can
// click the link from the log). It never fails permanently. It is safe for
// concurrent use.
type DirSender struct {
	dir string
	log *slog.Logger
}

// NewDirSender returns a sender writing into dir; dir is created on the
// first Send. A nil log means slog.Default().
func NewDirSender(dir string, log *slog.Logger) *DirSender {
	if log == nil {
		log = slog.Default()
	}
	return &DirSender{dir: dir, log: log}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Send writes m to a new file. Errors (unwritable folder, bad recipient
// address) are transient.
func (d *DirSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	msg, err := buildMsg(dirFrom, m, now)
	if err != nil {
		return err
	}
	data, err := render(msg)
	if err != nil {
		return fmt.Errorf("mail: render %s: %w", m.ID, err)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	id := safeID(m.ID)
	if id == "" {
		id = "message"
	}
	var path string
	var f *os.File
	for i := 0; ; i++ {
		name := strconv.FormatInt(now.UnixNano(), 10) + "-" + id + ".eml"
		if i > 0 {
			name = strconv.FormatInt(now.UnixNano(), 10) + "-" + id + "-" + strconv.Itoa(i) + ".eml"
		}
		path = filepath.Join(d.dir, name)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !os.IsExist(err) || i >= 100 {
			return fmt.Errorf("mail: %w", err)
		}
	}
	if err := f.Chmod(0o600); err != nil { // in case of an unusual umask
		_ = f.Close()
		return fmt.Errorf("mail: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("mail: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("mail: write %s: %w", path, err)
	}
	attrs := []any{"id", m.ID, "to", m.To, "subject", m.Subject, "path", path}
	if link := linkRE.FindString(m.Text); link != "" {
		attrs = append(attrs, "link", link)
	}
	attrs = append(attrs, "text", m.Text)
	d.log.InfoContext(ctx, "mail written", attrs...)
	return nil
}
