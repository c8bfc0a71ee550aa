package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// userCreator is what `users create` needs of a connector: the database
// connector implements it.
type userCreator interface {
	CreateUser(ctx context.Context, p connector.Profile, password string) (storage.User, error)
}

func (a *app) usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create, list and delete users of database connections",
	}
	cmd.AddCommand(a.usersCreateCmd(), a.usersListCmd(), a.usersDeleteCmd(), a.usersUnblockCmd())
	return cmd
}

func (a *app) usersCreateCmd() *cobra.Command {
	var (
		p        connector.Profile
		password string
		connName string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user with a password",
		Long: "Create a user in a database connection (default: the first connection).\n" +
			"Without --password the password is read from the first line of stdin, which\n" +
			"keeps it out of the shell history. The connection's password policy applies.",
		Example: "  echo 'correct horse battery staple' | latchkey users create --email ada@example.com",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.Email == "" {
				return errors.New("create user: --email is required")
			}
			if !cmd.Flags().Changed("password") {
				if isTerminal(a.stdin) {
					fmt.Fprint(a.stderr, "Password (shown as you type): ")
				}
				line, err := bufio.NewReader(a.stdin).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("create user: give --password or the password on stdin")
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return errors.New("create user: empty password")
			}
			ctx := cmd.Context()
			return a.withServer(ctx, func(srv *latchkey.Server, _ *sqlstore.Store) error {
				name := connName
				if name == "" {
					names, err := srv.Connectors().Names(ctx)
					if err != nil {
						return fmt.Errorf("create user: %w", err)
					}
					if len(names) == 0 {
						return errors.New("create user: there is no connection")
					}
					name = names[0]
				}
				conn, err := srv.Connectors().Lookup(ctx, name)
				if err != nil {
					return fmt.Errorf("create user: %w", err)
				}
				creator, ok := conn.(userCreator)
				if !ok {
					return fmt.Errorf("create user: connection %q (type %s) does not create users", name, conn.Connection().Type)
				}
				u, err := creator.CreateUser(ctx, p, password)
				var policy *connector.PolicyError
				switch {
				case errors.As(err, &policy):
					return fmt.Errorf("create user: password rejected (%s): %s", policy.Rule, policy.Message)
				case errors.Is(err, connector.ErrUserExists), errors.Is(err, storage.ErrAlreadyExists):
					return fmt.Errorf("create user: %s already has an account in %q", p.Email, name)
				case err != nil:
					return fmt.Errorf("create user: %w", err)
				}
				fmt.Fprintf(a.stdout, "created user %s (%s) in %s\n", u.ID, u.Email, name)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Email, "email", "", "email address (required)")
	f.StringVar(&password, "password", "", "password (default: read from stdin)")
	f.StringVar(&connName, "connection", "", "connection name (default: the first connection)")
	f.StringVar(&p.Username, "username", "", "username, when the connection uses them")
	f.StringVar(&p.Name, "name", "", "full name")
	f.StringVar(&p.GivenName, "given-name", "", "given name")
	f.StringVar(&p.FamilyName, "family-name", "", "family name")
	return cmd
}

func (a *app) usersListCmd() *cobra.Command {
	var (
		connName      string
		limit, offset int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(_ latchkey.Config, store *sqlstore.Store, _ *slog.Logger) error {
				conns, err := store.ListConnections(ctx)
				if err != nil {
					return fmt.Errorf("list users: %w", err)
				}
				names := make(map[string]string, len(conns))
				for _, c := range conns {
					names[c.ID] = c.Name
				}
				f := storage.UserFilter{Limit: limit, Offset: offset}
				if connName != "" {
					c, err := store.GetConnectionByName(ctx, connName)
					if errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("list users: no connection %q", connName)
					} else if err != nil {
						return fmt.Errorf("list users: %w", err)
					}
					f.ConnectionID = c.ID
				}
				users, err := store.ListUsers(ctx, f)
				if err != nil {
					return fmt.Errorf("list users: %w", err)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEMAIL\tCONNECTION\tVERIFIED\tBLOCKED\tCREATED\tLAST LOGIN")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, orDash(u.Email), orDash(names[u.ConnectionID]),
						yesNo(u.EmailVerified), yesNo(u.Blocked), formatTime(u.CreatedAt), formatTime(u.LastLoginAt))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&connName, "connection", "", "only users of this connection")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many users")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many users")
	return cmd
}

func (a *app) usersDeleteCmd() *cobra.Command {
	var connName string
	cmd := &cobra.Command{
		Use:   "delete ID|EMAIL",
		Short: "Delete a user with their credentials, sessions and consents",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(_ latchkey.Config, store *sqlstore.Store, _ *slog.Logger) error {
				u, err := findUser(ctx, store, args[0], connName)
				if err != nil {
					return fmt.Errorf("delete user: %w", err)
				}
				if err := store.DeleteUser(ctx, u.ID); err != nil {
					return fmt.Errorf("delete user: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted user %s (%s)\n", u.ID, u.Email)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&connName, "connection", "", "look the email up in this connection only")
	return cmd
}

// findUser finds a user by ID, or by email in one connection (or in every
// connection, when the email is unique among them).
func findUser(ctx context.Context, store storage.Store, idOrEmail, connName string) (storage.User, error) {
	if !strings.Contains(idOrEmail, "@") {
		u, err := store.GetUser(ctx, idOrEmail)
		if errors.Is(err, storage.ErrNotFound) {
			return storage.User{}, fmt.Errorf("no user %q", idOrEmail)
		}
		return u, err
	}
	var conns []storage.Connection
	if connName != "" {
		c, err := store.GetConnectionByName(ctx, connName)
		if errors.Is(err, storage.ErrNotFound) {
			return storage.User{}, fmt.Errorf("no connection %q", connName)
		} else if err != nil {
			return storage.User{}, err
		}
		conns = []storage.Connection{c}
	} else {
		var err error
		if conns, err = store.ListConnections(ctx); err != nil {
			return storage.User{}, err
		}
	}
	var found []storage.User
	for _, c := range conns {
		u, err := store.GetUserByEmail(ctx, c.ID, idOrEmail)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return storage.User{}, err
		}
		found = append(found, u)
	}
	switch len(found) {
	case 0:
		return storage.User{}, fmt.Errorf("no user with email %q", idOrEmail)
	case 1:
		return found[0], nil
	default:
		return storage.User{}, fmt.Errorf("%d users have email %q; pick one with --connection", len(found), idOrEmail)
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
