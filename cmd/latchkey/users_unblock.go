package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// loginUnblocker is what `users unblock` needs of a connector: the
// database connector implements it.
type loginUnblocker interface {
	ResetLoginFailures(ctx context.Context, u storage.User) error
}

// usersUnblockCmd lifts brute-force blocks: the administrator's way of
// Auth0's unblock (besides the emailed link and a password reset).
func (a *app) usersUnblockCmd() *cobra.Command {
	var connName string
	cmd := &cobra.Command{
		Use:   "unblock ID|EMAIL",
		Short: "Lift the brute-force blocks on a user's logins (every IP address)",
		Long: "Forget the failed logins of a user's email and username, from every IP address,\n" +
			"which lifts the blocks brute-force protection set. It does not lift an\n" +
			"administrator's block of the account.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withServer(ctx, func(srv *latchkey.Server, store *sqlstore.Store) error {
				u, err := findUser(ctx, store, args[0], connName)
				if err != nil {
					return fmt.Errorf("unblock user: %w", err)
				}
				conn, err := store.GetConnection(ctx, u.ConnectionID)
				if err != nil {
					return fmt.Errorf("unblock user: %w", err)
				}
				c, err := srv.Connectors().Lookup(ctx, conn.Name)
				if err != nil {
					return fmt.Errorf("unblock user: %w", err)
				}
				ub, ok := c.(loginUnblocker)
				if !ok {
					return fmt.Errorf("unblock user: connection %q (type %s) has no brute-force protection", conn.Name, conn.Type)
				}
				if err := ub.ResetLoginFailures(ctx, u); err != nil {
					return fmt.Errorf("unblock user: %w", err)
				}
				fmt.Fprintf(a.stdout, "unblocked user %s (%s)\n", u.ID, u.Email)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&connName, "connection", "", "look the email up in this connection only")
	return cmd
}
