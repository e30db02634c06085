package main

import (
	"fmt"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/store/sqlstore"
	"io"
	"text/tabwriter"
	"time"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/keys"
	"github.com/spf13/cobra"
)

func keysCmd(load loader, out, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage token signing keys"}
	with := func(fn func(cmd *cobra.Command, km *keys.Manager) error) func(*cobra.Command, []string) error {
		return withStore(load, stderr, func(cmd *cobra.Command, c *config.Config, st *sqlstore.Store, _ []string) error {
			secret, err := app.ResolveSecret(c, app.NewLogger(c, stderr))
			if err != nil {
				return err
			}
			km, err := app.Keys(c, st, secret, clock.Real{})
			if err != nil {
				return err
			}
			if err := km.Load(cmd.Context()); err != nil {
				return err
			}
			return fn(cmd, km)
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List keys: id, algorithm, age, state (signing, published until …)",
		Args:  cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, km *keys.Manager) error {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tCREATED\tAGE\tSTATE")
			now := time.Now()
			for _, k := range km.Keys() {
				state := "signing"
				if e := k.Record.ExpiresAt; e != nil {
					state = "retired, published until " + e.Format("2006-01-02 15:04")
					if !e.After(now) {
						state = "expired (pruned at next maintenance)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Record.ID, k.Record.Algorithm, k.Record.CreatedAt.Format("2006-01-02 15:04"),
					now.Sub(k.Record.CreatedAt).Round(time.Hour), state)
			}
			return tw.Flush()
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key now; the previous one stays published for key-retention",
		Args:  cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, km *keys.Manager) error {
			k, err := km.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "new signing key %s (%s); running servers pick it up within a minute\n", k.Record.ID, k.Record.Algorithm)
			return nil
		}),
	})
	return cmd
}
