package httpapi_test

import (
	"github.com/auther/auther/internal/testlog"
	"log/slog"
	"strings"
	"testing"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/testdb"
)

// Even at debug level, no password, token or cookie value reaches the logs.
func TestLogsNeverContainSecrets(t *testing.T) {
	var buf testlog.Buffer
	e := newEnv(t, testdb.SQLite(t), func(_ *auth.Service, o *httpapi.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := e.client()
	tok := c.signUp("logs@example.com", pw)["token"].(string)
	cookie := c.cookie("auther.session_token")
	c.get("/api/auth/get-session")
	c.post("/api/auth/sign-in/email", map[string]any{"email": "logs@example.com", "password": "Wrong-Password-123"})
	r := c.post("/api/auth/change-password", map[string]any{"currentPassword": pw, "newPassword": "Brand-New-Password-456", "revokeOtherSessions": true})
	newTok, _ := r.json(t)["token"].(string)
	c.get("/api/auth/get-session", "Authorization", "Bearer "+newTok)
	logs := buf.String()
	if !strings.Contains(logs, "user signed up") || !strings.Contains(logs, "sign-in failed") {
		t.Fatalf("expected auth events in the logs, got:\n%s", logs)
	}
	for _, secret := range []string{pw, "Wrong-Password-123", "Brand-New-Password-456", tok, newTok, cookie, tok[:16]} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret %q", secret)
		}
	}
}
