package main

import (
	"context"
	"fmt"
	"io"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/migrate"
	"github.com/spf13/cobra"
)

type loader func(*cobra.Command) (*config.Config, error)

func withMigrator(load loader, fn func(ctx context.Context, m *migrate.Migrator) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		c, err := load(cmd)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		st, err := app.OpenStore(ctx, c)
		if err != nil {
			return err
		}
		defer st.Close()
		m, err := st.Migrator()
		if err != nil {
			return err
		}
		return fn(ctx, m)
	}
}

func migrateCmd(load loader, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Inspect and apply schema migrations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "List applied and pending migrations",
		Args:  cobra.NoArgs,
		RunE: withMigrator(load, func(ctx context.Context, m *migrate.Migrator) error {
			st, err := m.Status(ctx)
			if err != nil {
				return err
			}
			for _, a := range st.Applied {
				fmt.Fprintf(out, "applied   %s  %s\n", a.Name, a.AppliedAt.Format("2006-01-02 15:04:05Z07:00"))
			}
			for _, a := range st.Drifted {
				fmt.Fprintf(out, "CHANGED   %s  applied %s, but this binary's SQL differs (checksum %s…)\n", a.Name, a.AppliedAt.Format("2006-01-02"), a.Checksum[:12])
			}
			for _, a := range st.Unknown {
				fmt.Fprintf(out, "UNKNOWN   %s  applied by a newer auther\n", a.Name)
			}
			for _, p := range st.Pending {
				fmt.Fprintf(out, "pending   %s\n", p.Name)
			}
			if len(st.Drifted) > 0 || len(st.Unknown) > 0 {
				return st.Err() // exit non-zero: this database cannot be served as it is
			}
			return nil
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "plan",
		Short: "Print the exact SQL that `migrate up` would run, and nothing else",
		Args:  cobra.NoArgs,
		RunE: withMigrator(load, func(ctx context.Context, m *migrate.Migrator) error {
			pending, err := m.Plan(ctx)
			if err != nil {
				return err
			}
			for _, p := range pending {
				fmt.Fprintf(out, "-- migration %s (sha256 %s)\n%s\n", p.Name, p.Checksum, p.SQL)
			}
			return nil
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply pending migrations, each in its own transaction",
		Args:  cobra.NoArgs,
		RunE: withMigrator(load, func(ctx context.Context, m *migrate.Migrator) error {
			applied, err := m.Up(ctx)
			for _, a := range applied {
				fmt.Fprintf(out, "applied %s\n", a.Name)
			}
			if err == nil && len(applied) == 0 {
				fmt.Fprintln(out, "nothing to apply: the schema is current")
			}
			return err
		}),
	})
	return cmd
}
