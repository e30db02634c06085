package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/auther/auther/internal/config"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/spf13/cobra"
)

func clientCmd(load loader, out, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage OAuth/OIDC clients (relying parties)"}
	with := func(fn func(ctx context.Context, st *sqlstore.Store, args []string) error) func(*cobra.Command, []string) error {
		return withStore(load, stderr, func(cmd *cobra.Command, _ *config.Config, st *sqlstore.Store, args []string) error {
			return fn(cmd.Context(), st, args)
		})
	}
	var spec oidc.ClientSpec
	create := &cobra.Command{
		Use:   "create --name N --redirect-uri URI [...]",
		Short: "Register a client; prints its id and (confidential clients) its secret, once",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, st *sqlstore.Store, _ []string) error {
			c, secret, err := oidc.NewClient(spec, time.Now().UTC().Truncate(time.Millisecond))
			if err != nil {
				return err
			}
			if err := st.CreateClient(ctx, c); err != nil {
				return err
			}
			fmt.Fprintf(out, "client_id:     %s\n", c.ID)
			if secret != "" {
				fmt.Fprintf(out, "client_secret: %s\n(shown once; only its hash is stored)\n", secret)
			} else {
				fmt.Fprintln(out, "public client: no secret; PKCE (S256) is required")
			}
			return nil
		}),
	}
	f := create.Flags()
	f.StringVar(&spec.Name, "name", "", "display name shown on the consent page")
	f.BoolVar(&spec.Public, "public", false, "a public client (SPA, mobile): no secret, PKCE required")
	f.StringSliceVar(&spec.RedirectURIs, "redirect-uri", nil, "allowed redirect URI, matched exactly (repeatable)")
	f.StringSliceVar(&spec.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "allowed post-logout redirect URI (repeatable)")
	f.StringSliceVar(&spec.GrantTypes, "grant-type", nil, "authorization_code, refresh_token, client_credentials (default: the first two)")
	f.StringSliceVar(&spec.Scopes, "scope", nil, "allowed scopes (default: openid profile email offline_access)")
	f.BoolVar(&spec.SkipConsent, "skip-consent", false, "a trusted first-party client: never ask for consent")

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, st *sqlstore.Store, _ []string) error {
			cs, err := st.ListClients(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tSTATE\tREDIRECT URIS")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind(&c), state(&c), strings.Join(c.RedirectURIs, " "))
			}
			return tw.Flush()
		}),
	}
	show := &cobra.Command{
		Use:   "show <client-id>",
		Short: "Show a client as JSON (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, st *sqlstore.Store, args []string) error {
			c, err := getClient(ctx, st, args[0])
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(map[string]any{"client_id": c.ID, "name": c.Name, "type": kind(c), "disabled": c.Disabled,
				"redirect_uris": c.RedirectURIs, "post_logout_redirect_uris": c.PostLogoutRedirectURIs, "grant_types": c.GrantTypes,
				"scopes": c.Scopes, "skip_consent": c.SkipConsent, "created_at": c.CreatedAt}, "", "  ")
			fmt.Fprintln(out, string(b))
			return nil
		}),
	}
	update := func(use, short string, fn func(c *store.Client) (string, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " <client-id>", Short: short, Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, st *sqlstore.Store, args []string) error {
				var msg string
				_, err := st.UpdateClient(ctx, args[0], func(c *store.Client) error {
					var err error
					msg, err = fn(c)
					c.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
					return err
				})
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no client %s", args[0])
				}
				if err == nil {
					fmt.Fprintln(out, msg)
				}
				return err
			}),
		}
	}
	rotate := update("rotate-secret", "Replace a confidential client's secret (the old one stops working at once)", func(c *store.Client) (string, error) {
		if c.Public {
			return "", errors.New("public clients have no secret")
		}
		secret, hash := oidc.NewSecret()
		c.SecretHash = &hash
		return "client_secret: " + secret + "\n(shown once; only its hash is stored)", nil
	})
	disable := update("disable", "Disable a client: authorization, tokens and refresh are refused", func(c *store.Client) (string, error) {
		c.Disabled = true
		return "disabled " + c.ID, nil
	})
	enable := update("enable", "Enable a disabled client", func(c *store.Client) (string, error) {
		c.Disabled = false
		return "enabled " + c.ID, nil
	})
	del := &cobra.Command{
		Use:   "delete <client-id>",
		Short: "Delete a client with its consents and grants (its tokens stop working)",
		Args:  cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, st *sqlstore.Store, args []string) error {
			if err := st.DeleteClient(ctx, args[0]); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no client %s", args[0])
				}
				return err
			}
			fmt.Fprintf(out, "deleted client %s\n", args[0])
			return nil
		}),
	}
	var up struct {
		name                      string
		redirects, logouts, scope []string
		skipConsent               string
		accessTTL, idTTL, refTTL  time.Duration
	}
	updateCmd := &cobra.Command{
		Use:   "update <client-id>",
		Short: "Change a client: only the flags given are changed (lists are replaced)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			return with(func(ctx context.Context, st *sqlstore.Store, args []string) error {
				var verr error
				_, err := st.UpdateClient(ctx, args[0], func(c *store.Client) error {
					if fl.Changed("name") {
						c.Name = up.name
					}
					for _, u := range append(append([]string{}, up.redirects...), up.logouts...) {
						if verr = oidc.ValidateRedirectURI(u); verr != nil {
							return verr
						}
					}
					if fl.Changed("redirect-uri") {
						c.RedirectURIs = up.redirects
					}
					if fl.Changed("post-logout-redirect-uri") {
						c.PostLogoutRedirectURIs = up.logouts
					}
					if fl.Changed("scope") {
						for _, sc := range up.scope {
							if !slices.Contains(oidc.Scopes, sc) {
								verr = fmt.Errorf("unknown scope %q", sc)
								return verr
							}
						}
						c.Scopes = up.scope
					}
					if fl.Changed("skip-consent") {
						c.SkipConsent = up.skipConsent == "true"
					}
					for _, t := range []struct {
						flag string
						v    time.Duration
						dst  **time.Duration
					}{{"access-token-ttl", up.accessTTL, &c.AccessTokenTTL}, {"id-token-ttl", up.idTTL, &c.IDTokenTTL}, {"refresh-token-ttl", up.refTTL, &c.RefreshTokenTTL}} {
						if fl.Changed(t.flag) {
							v := t.v
							*t.dst = &v
							if v == 0 {
								*t.dst = nil // back to the server default
							}
						}
					}
					c.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
					return nil
				})
				if verr != nil {
					return verr
				}
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no client %s", args[0])
				}
				if err == nil {
					fmt.Fprintf(out, "updated %s\n", args[0])
				}
				return err
			})(cmd, args)
		},
	}
	uf := updateCmd.Flags()
	uf.StringVar(&up.name, "name", "", "display name")
	uf.StringSliceVar(&up.redirects, "redirect-uri", nil, "redirect URIs (replaces the list)")
	uf.StringSliceVar(&up.logouts, "post-logout-redirect-uri", nil, "post-logout redirect URIs (replaces the list)")
	uf.StringSliceVar(&up.scope, "scope", nil, "allowed scopes (replaces the list)")
	uf.StringVar(&up.skipConsent, "skip-consent", "", "true or false")
	uf.DurationVar(&up.accessTTL, "access-token-ttl", 0, "access token lifetime for this client (0: server default)")
	uf.DurationVar(&up.idTTL, "id-token-ttl", 0, "ID token lifetime for this client (0: server default)")
	uf.DurationVar(&up.refTTL, "refresh-token-ttl", 0, "refresh token lifetime for this client (0: server default)")
	cmd.AddCommand(create, list, show, updateCmd, rotate, disable, enable, del)
	return cmd
}

func getClient(ctx context.Context, st *sqlstore.Store, id string) (*store.Client, error) {
	c, err := st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no client %s", id)
	}
	return c, err
}

func kind(c *store.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

func state(c *store.Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "active"
}
