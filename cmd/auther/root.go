package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/config"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "auther",
		Short:         "Auther: an identity provider with Better Auth's data model and API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	config.RegisterFlags(root.PersistentFlags())
	load := func(cmd *cobra.Command) (*config.Config, error) {
		return config.Load(cmd.Flags(), os.Getenv)
	}

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Run the server (SQLite in the data dir unless AUTHER_DATABASE_URL is set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := load(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return app.Serve(ctx, c, stdout, app.NewLogger(c, stderr))
		},
	})
	root.AddCommand(migrateCmd(load, stdout), userCmd(load, stdout, stderr), mailCmd(load, stdout, stderr), keysCmd(load, stdout, stderr), clientCmd(load, stdout, stderr), webhookCmd(load, stdout, stderr))
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(stdout, "auther %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	})
	return root
}
