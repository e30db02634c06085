package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/testdb"
)

func TestSyncClientsFromFile(t *testing.T) {
	st := testdb.SQLite(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.yaml")
	t.Setenv("PAYLOAD_SECRET", "payload-secret-payload-secret-payload-1")
	write := func(name string) {
		os.WriteFile(path, []byte(`
- client_id: payload-admin
  client_secret_env: PAYLOAD_SECRET
  name: `+name+`
  redirect_uris: [https://admin.example.com/api/auth/callback]
  skip_consent: true
- client_id: blog
  public: true
  name: Blog
  redirect_uris: [https://blog.example.com/cb]
`), 0o600)
	}
	write("Payload Admin")
	now := time.Now().UTC().Truncate(time.Millisecond)
	if n, err := SyncClients(ctx, st, path, now); err != nil || n != 2 {
		t.Fatalf("SyncClients = %d, %v", n, err)
	}
	c, err := st.GetClient(ctx, "payload-admin")
	if err != nil || !c.SkipConsent || c.Public || !oidc.CheckSecret(c, "payload-secret-payload-secret-payload-1") {
		t.Fatalf("payload-admin = %+v, %v", c, err)
	}
	if b, _ := st.GetClient(ctx, "blog"); b == nil || !b.Public || b.SecretHash != nil {
		t.Fatalf("blog = %+v", b)
	}
	// A second start with a changed file updates in place; a disable made
	// by an administrator survives.
	st.UpdateClient(ctx, "blog", func(c *store.Client) error { c.Disabled = true; return nil })
	write("Payload Admin v2")
	if _, err := SyncClients(ctx, st, path, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.GetClient(ctx, "payload-admin"); c.Name != "Payload Admin v2" || !c.CreatedAt.Equal(now) {
		t.Errorf("after update: %+v", c)
	}
	if b, _ := st.GetClient(ctx, "blog"); !b.Disabled {
		t.Error("sync re-enabled a client an administrator disabled")
	}
	os.WriteFile(path, []byte("- client_id: weak\n  client_secret: short\n  name: W\n  redirect_uris: [https://w.example.com/cb]\n"), 0o600)
	if _, err := SyncClients(ctx, st, path, now); err == nil || !strings.Contains(err.Error(), `"weak"`) {
		t.Errorf("weak secret: %v", err)
	}
	os.WriteFile(path, []byte("- client_id: x\n  nmae: typo\n"), 0o600)
	if _, err := SyncClients(ctx, st, path, now); err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Errorf("unknown key: %v", err)
	}
}
