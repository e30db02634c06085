package main

import (
	"context"
	"fmt"
	"github.com/auther/auther/internal/config"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/webhook"
	"github.com/spf13/cobra"
)

// webhookEnv is what every webhook subcommand works with.
type webhookEnv struct {
	st     *sqlstore.Store
	mgr    *webhook.Manager
	worker *webhook.Worker
}

func webhookCmd(load loader, out, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Manage webhook endpoints and their deliveries"}
	with := func(fn func(ctx context.Context, e webhookEnv, args []string) error) func(*cobra.Command, []string) error {
		return withStore(load, stderr, func(cmd *cobra.Command, c *config.Config, st *sqlstore.Store, args []string) error {
			log := app.NewLogger(c, stderr)
			secret, err := app.ResolveSecret(c, log)
			if err != nil {
				return err
			}
			mgr, worker, err := app.Webhooks(c, st, secret, clock.Real{}, log)
			if err != nil {
				return err
			}
			return fn(cmd.Context(), webhookEnv{st, mgr, worker}, args)
		})
	}
	printSecret := func(e *store.WebhookEndpoint, secret string) {
		fmt.Fprintf(out, "id:     %s\nsecret: %s\n(shown once; receivers verify x-webhook-signature with it)\n", e.ID, secret)
	}

	var in struct {
		url, description, retry string
		events                  []string
	}
	input := func(cmd *cobra.Command) webhook.EndpointInput {
		var o webhook.EndpointInput
		f := cmd.Flags()
		if f.Changed("url") {
			o.URL = &in.url
		}
		if f.Changed("description") {
			o.Description = &in.description
		}
		if f.Changed("events") {
			o.EventTypes = &in.events
		}
		if f.Changed("retry") {
			o.RetryPolicy = &in.retry
		}
		return o
	}
	flags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringVar(&in.url, "url", "", "receiver URL (https; http only for localhost)")
		f.StringSliceVar(&in.events, "events", nil, "event types to send (comma-separated, or * for all): "+strings.Join(event.Types, ", "))
		f.StringVar(&in.retry, "retry", store.RetryStandard, `retry policy: "standard" (exponential backoff for webhook-retry-for) or "none"`)
		f.StringVar(&in.description, "description", "", "a note for operators")
	}

	create := &cobra.Command{
		Use:   "create --url URL --events TYPES",
		Short: "Add an endpoint; prints its id and its secret, once",
		Args:  cobra.NoArgs,
	}
	create.RunE = with(func(ctx context.Context, e webhookEnv, _ []string) error {
		o := input(create)
		if o.URL == nil {
			return fmt.Errorf("--url is required")
		}
		if o.EventTypes == nil {
			return fmt.Errorf("--events is required (e.g. --events user.created,user.updated,user.deleted or --events '*')")
		}
		ep, secret, err := e.mgr.Create(ctx, o)
		if err != nil {
			return err
		}
		printSecret(ep, secret)
		return nil
	})
	flags(create)

	update := &cobra.Command{
		Use:   "update ID [--url URL] [--events TYPES] [--retry POLICY] [--description TEXT]",
		Short: "Change an endpoint",
		Args:  cobra.ExactArgs(1),
	}
	update.RunE = with(func(ctx context.Context, e webhookEnv, args []string) error {
		ep, err := e.mgr.Update(ctx, args[0], input(update))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "updated %s: %s [%s]\n", ep.ID, ep.URL, strings.Join(ep.EventTypes, ","))
		return nil
	})
	flags(update)

	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
				if _, err := e.mgr.Update(ctx, args[0], webhook.EndpointInput{Disabled: &disabled}); err != nil {
					return err
				}
				fmt.Fprintf(out, "%sd %s\n", use, args[0])
				return nil
			})}
	}

	cmd.AddCommand(create, update,
		&cobra.Command{
			Use: "list", Short: "List endpoints", Args: cobra.NoArgs,
			RunE: with(func(ctx context.Context, e webhookEnv, _ []string) error {
				es, err := e.st.ListWebhookEndpoints(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tURL\tEVENTS\tRETRY\tSTATE")
				for _, ep := range es {
					state := "active"
					if ep.Disabled {
						state = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ep.ID, ep.URL, strings.Join(ep.EventTypes, ","), ep.RetryPolicy, state)
				}
				return tw.Flush()
			}),
		},
		rotateCmd(with, printSecret, out),
		setDisabled("disable", "Stop sending to an endpoint (events recorded meanwhile are not sent to it; queued ones wait until it is enabled)", true),
		setDisabled("enable", "Resume sending to an endpoint", false),
		&cobra.Command{
			Use: "delete ID", Short: "Delete an endpoint and its delivery history", Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
				if err := e.st.DeleteWebhookEndpoint(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(out, "deleted %s\n", args[0])
				return nil
			}),
		},
		&cobra.Command{
			Use: "test ID", Short: "Send a webhook.test event now and show the answer", Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
				res, err := e.worker.SendTest(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(out, res.String())
				if res.Response != "" {
					fmt.Fprintf(out, "response: %s\n", res.Response)
				}
				if !res.OK() {
					return fmt.Errorf("the endpoint did not accept the test event")
				}
				return nil
			}),
		},
		deliveriesCmd(with, out),
		&cobra.Command{
			Use: "replay DELIVERY_ID", Short: "Send a delivered or dead delivery again", Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
				d, err := e.st.ReplayDelivery(ctx, args[0], time.Now().UTC().Truncate(time.Millisecond))
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "queued %s (%s) again; a running server sends it within a second\n", d.ID, d.EventType)
				return nil
			}),
		},
	)
	return cmd
}

func deliveriesCmd(with func(func(context.Context, webhookEnv, []string) error) func(*cobra.Command, []string) error, out io.Writer) *cobra.Command {
	var status string
	var limit int
	c := &cobra.Command{
		Use: "deliveries ID [--status pending|delivered|dead]", Short: "List an endpoint's deliveries, newest first", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
			if status != "" && status != store.DeliveryPending && status != store.DeliveryDelivered && status != store.DeliveryDead {
				return fmt.Errorf("--status must be pending, delivered or dead, not %q", status)
			}
			if _, err := e.st.GetWebhookEndpoint(ctx, args[0]); err != nil {
				return err
			}
			ds, err := e.st.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: args[0], Status: status, Limit: limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DELIVERY_ID\tEVENT\tSTATUS\tATTEMPTS\tLAST\tCREATED")
			for _, d := range ds {
				last := "-"
				if d.LastStatusCode != 0 {
					last = fmt.Sprint(d.LastStatusCode)
				} else if d.LastError != "" {
					last = d.LastError
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EventType, d.Status, d.Attempts, last, d.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	c.Flags().StringVar(&status, "status", "", "only deliveries with this status")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return c
}

func rotateCmd(with func(func(context.Context, webhookEnv, []string) error) func(*cobra.Command, []string) error,
	printSecret func(*store.WebhookEndpoint, string), out io.Writer) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use: "rotate-secret ID", Short: "Give an endpoint a new secret; the old one keeps signing for webhook-secret-overlap", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, e webhookEnv, args []string) error {
			ep, secret, err := e.mgr.RotateSecret(ctx, args[0], force)
			if err != nil {
				return err
			}
			printSecret(ep, secret)
			fmt.Fprintf(out, "the old secret also signs until %s\n", ep.PreviousSecretExpiresAt.Format(time.RFC3339))
			return nil
		}),
	}
	c.Flags().BoolVar(&force, "force", false, "rotate even while the previous rotation's old secret still signs (it stops at once)")
	return c
}
