package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"go.yaml.in/yaml/v3"
)

// TrustedClient is a client declared in the clients file.
type TrustedClient struct {
	ClientID               string   `yaml:"client_id"`
	ClientSecret           string   `yaml:"client_secret"`     // confidential clients; or:
	ClientSecretEnv        string   `yaml:"client_secret_env"` // name of an environment variable holding it
	Name                   string   `yaml:"name"`
	Public                 bool     `yaml:"public"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	GrantTypes             []string `yaml:"grant_types"`
	Scopes                 []string `yaml:"scopes"`
	SkipConsent            bool     `yaml:"skip_consent"`
}

// SyncClients creates or updates the clients declared in path so that the
// database matches the file (clients not in the file are left alone).
func SyncClients(ctx context.Context, st store.Store, path string, now time.Time) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("clients file: %w", err)
	}
	var list []TrustedClient
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil {
		return 0, fmt.Errorf("clients file %s: %w", path, err)
	}
	for i, tc := range list {
		if err := syncClient(ctx, st, tc, now); err != nil {
			return i, fmt.Errorf("clients file %s, client %q: %w", path, tc.ClientID, err)
		}
	}
	return len(list), nil
}

func syncClient(ctx context.Context, st store.Store, tc TrustedClient, now time.Time) error {
	if tc.ClientID == "" {
		return errors.New("client_id is required")
	}
	secret := tc.ClientSecret
	if tc.ClientSecretEnv != "" {
		secret = os.Getenv(tc.ClientSecretEnv)
	}
	if !tc.Public && len(secret) < 32 {
		return errors.New("a confidential client needs a client_secret (or client_secret_env) of at least 32 characters")
	}
	if tc.Public && secret != "" {
		return errors.New("a public client has no secret")
	}
	spec := oidc.ClientSpec{Name: tc.Name, Public: tc.Public, RedirectURIs: tc.RedirectURIs, PostLogoutRedirectURIs: tc.PostLogoutRedirectURIs,
		GrantTypes: tc.GrantTypes, Scopes: tc.Scopes, SkipConsent: tc.SkipConsent}
	want, _, err := oidc.NewClient(spec, now)
	if err != nil {
		return err
	}
	want.ID = tc.ClientID
	want.SecretHash = nil
	if !tc.Public {
		h := oidc.HashSecret(secret)
		want.SecretHash = &h
	}
	_, err = st.UpdateClient(ctx, tc.ClientID, func(c *store.Client) error {
		created := c.CreatedAt
		disabled := c.Disabled
		*c = *want
		c.CreatedAt, c.Disabled = created, disabled
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return st.CreateClient(ctx, want)
	}
	return err
}
