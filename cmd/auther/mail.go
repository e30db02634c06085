package main

import (
	"fmt"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/store/sqlstore"
	"io"
	"text/tabwriter"

	"github.com/auther/auther/internal/store"
	"github.com/spf13/cobra"
)

func mailCmd(load loader, out, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "mail", Short: "Inspect the outgoing mail queue"}
	list := func(status string) *cobra.Command {
		var limit int
		c := &cobra.Command{
			Use:   status,
			Short: "List " + status + " mail (recipient, subject, attempts, last error; never the body)",
			Args:  cobra.NoArgs,
			RunE: withStore(load, stderr, func(cmd *cobra.Command, _ *config.Config, st *sqlstore.Store, _ []string) error {
				mails, err := st.ListMail(cmd.Context(), status, limit)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTO\tSUBJECT\tATTEMPTS\tUPDATED\tLAST ERROR")
				for _, m := range mails {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.To, m.Subject, m.Attempts, m.UpdatedAt.Format("2006-01-02 15:04:05"), m.LastError)
				}
				return tw.Flush()
			}),
		}
		c.Flags().IntVar(&limit, "limit", 100, "at most this many")
		return c
	}
	cmd.AddCommand(list(store.MailFailed), list(store.MailPending))
	return cmd
}
