package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	t.Setenv("AUTHER_URL", "https://id.example.com")
	t.Setenv("CLIENT_ID", "notes")
	t.Setenv("WEBHOOK_SECRET", " whsec_new , whsec_old ,")
	t.Setenv("ADDR", "127.0.0.1:4100")
	t.Setenv("PUBLIC_URL", "")
	t.Setenv("DATABASE_URL", "")

	c, err := parseConfig("serve", []string{"--client-id", "notes-from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if c.AutherURL != "https://id.example.com" || c.ClientID != "notes-from-flag" {
		t.Errorf("AutherURL %q, ClientID %q: the environment is the default, a flag wins", c.AutherURL, c.ClientID)
	}
	if !slices.Equal(c.WebhookSecrets, []string{"whsec_new", "whsec_old"}) {
		t.Errorf("WebhookSecrets = %q, want both secrets of the rotation", c.WebhookSecrets)
	}
	if c.PublicURL != "http://127.0.0.1:4100" {
		t.Errorf("PublicURL = %q, want http://<addr> by default", c.PublicURL)
	}
	if c.MaxTokenLifetime != 0 || c.MaxDeleteFraction != 0 {
		t.Errorf("MaxTokenLifetime %v, MaxDeleteFraction %v: tombstones are kept and the guard is the SDK's unless set", c.MaxTokenLifetime, c.MaxDeleteFraction)
	}
	t.Setenv("MAX_TOKEN_LIFETIME", "8760h")
	c, err = parseConfig("reconcile", []string{"--max-delete-fraction", "1"})
	if err != nil || c.MaxTokenLifetime != 8760*time.Hour || c.MaxDeleteFraction != 1 {
		t.Errorf("%v %v %v", c.MaxTokenLifetime, c.MaxDeleteFraction, err)
	}
	for _, bad := range [][]string{{"--max-token-lifetime", "forever"}, {"--max-token-lifetime", "-1h"}, {"--max-delete-fraction", "2"}} {
		if _, err := parseConfig("reconcile", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunRefusesUnknownCommandAndMissingSettings(t *testing.T) {
	if err := run(t.Context(), []string{"frobnicate"}, nil); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	t.Setenv("AUTHER_ADMIN_TOKEN", "")
	if err := run(t.Context(), []string{"reconcile", "--data-dir", t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "AUTHER_ADMIN_TOKEN") {
		t.Errorf("reconcile without a token: %v", err)
	}
	t.Setenv("CLIENT_ID", "notes")
	t.Setenv("WEBHOOK_SECRET", "")
	if err := run(t.Context(), []string{"serve", "--data-dir", t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET") {
		t.Errorf("serve without a webhook secret: %v", err)
	}
}
