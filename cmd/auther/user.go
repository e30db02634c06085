package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/spf13/cobra"
)

// openMigrated opens the store and refuses to work on a schema that is not
// current (the CLI never migrates implicitly, except on SQLite like serve).
// withStore turns fn into a command's RunE: it loads the config, opens the
// store (migrating the embedded default) and closes it when fn returns.
func withStore(load loader, stderr io.Writer, fn func(cmd *cobra.Command, c *config.Config, st *sqlstore.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := load(cmd)
		if err != nil {
			return err
		}
		st, err := openMigrated(cmd.Context(), c, stderr)
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd, c, st, args)
	}
}

func openMigrated(ctx context.Context, c *config.Config, stderr io.Writer) (*sqlstore.Store, error) {
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := app.PrepareSchema(ctx, c, st, app.NewLogger(c, stderr)); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func userCmd(load loader, out, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users without the API (e.g. to bootstrap an admin)"}

	var name, email string
	var verified, passwordStdin, admin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user with a password (read from stdin with --password-stdin, else prompted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := load(cmd)
			if err != nil {
				return err
			}
			if email == "" {
				return errors.New("--email is required")
			}
			pw, err := readPassword(cmd.InOrStdin(), stderr, passwordStdin)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openMigrated(ctx, c, stderr)
			if err != nil {
				return err
			}
			defer st.Close()
			svc := app.NewAuthService(c, st, password.NewPool(c.HashConcurrency), clock.Real{}, "", nil)
			u, err := svc.CreateUser(ctx, name, email, pw, verified, admin)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "created user %s <%s>\n", u.ID, u.Email)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "email address (required)")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().BoolVar(&verified, "verified", false, "mark the email as verified")
	create.Flags().BoolVar(&admin, "admin", false, "make the user an administrator of Auther (admin API)")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")

	var limit int
	var after string
	list := &cobra.Command{
		Use:   "list",
		Short: "List users in creation order",
		Args:  cobra.NoArgs,
		RunE: withStore(load, stderr, func(cmd *cobra.Command, _ *config.Config, st *sqlstore.Store, _ []string) error {
			users, err := st.ListUsers(cmd.Context(), store.ListUsersOptions{After: after, Limit: limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tVERIFIED\tNAME\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", u.ID, u.Email, u.EmailVerified, u.Name, u.CreatedAt.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVar(&limit, "limit", 100, "at most this many users")
	list.Flags().StringVar(&after, "after", "", "start after this user id (paging)")

	del := &cobra.Command{
		Use:   "delete <id-or-email>",
		Short: "Delete a user with their sessions and accounts",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(load, stderr, func(cmd *cobra.Command, _ *config.Config, st *sqlstore.Store, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			if strings.Contains(id, "@") {
				u, err := st.GetUserByEmail(ctx, strings.ToLower(id))
				if err != nil {
					return fmt.Errorf("no user with email %s", id)
				}
				id = u.ID
			}
			if err := st.DeleteUser(ctx, id); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no user %s", args[0])
				}
				return err
			}
			fmt.Fprintf(out, "deleted user %s\n", id)
			return nil
		}),
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if !fromStdin {
		if f, ok := in.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(prompt, "Password (input is visible; prefer --password-stdin in scripts): ")
			}
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password given on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
