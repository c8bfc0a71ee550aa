package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate token-signing keys",
	}
	cmd.AddCommand(a.keysListCmd(), a.keysRotateCmd())
	return cmd
}

func (a *app) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List signing keys, newest generation first",
		Long: "List signing keys, newest generation first. SIGNING marks the key that signs\n" +
			"new tokens of its algorithm; PUBLISHED keys are in the JWKS. On a fresh\n" +
			"database the first generation is created, as the server would.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withServer(ctx, func(srv *latchkey.Server, _ *sqlstore.Store) error {
				return printKeys(ctx, a.stdout, srv.Provider())
			})
		},
	}
}

func (a *app) keysRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Add a new generation of signing keys",
		Long: "Add a new generation of signing keys (one per algorithm). It is published in\n" +
			"the JWKS at once and signs new tokens after keys.activation_delay (running\n" +
			"servers reload keys every minute). Older keys stay in the JWKS, verifying\n" +
			"only, until the tokens they signed have expired.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withServer(ctx, func(srv *latchkey.Server, _ *sqlstore.Store) error {
				if err := srv.Provider().RotateKeys(ctx); err != nil {
					return fmt.Errorf("rotate keys: %w", err)
				}
				fmt.Fprintf(a.stdout, "rotated signing keys\n\n")
				return printKeys(ctx, a.stdout, srv.Provider())
			})
		},
	}
}

func printKeys(ctx context.Context, w io.Writer, p *provider.Provider) error {
	keys, err := p.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tGENERATION\tCREATED\tRETIRED\tSIGNING\tPUBLISHED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.Generation,
			formatTime(k.CreatedAt), formatTime(k.RetiredAt), yesNo(k.Active), yesNo(k.Published))
	}
	return tw.Flush()
}
