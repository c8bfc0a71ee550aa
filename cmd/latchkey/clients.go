package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

func (a *app) clientsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Register, list and delete OAuth 2.0 clients",
	}
	cmd.AddCommand(a.clientsCreateCmd(), a.clientsListCmd(), a.clientsDeleteCmd())
	return cmd
}

func (a *app) clientsCreateCmd() *cobra.Command {
	var c latchkey.ClientConfig
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print its secret (shown once)",
		Long: "Register a client. A confidential client gets a generated secret, printed\n" +
			"once: only its hash is stored. A public client (--public: SPA, native app)\n" +
			"has none and must use PKCE.",
		Example: "  latchkey clients create --id my-app --name 'My app' \\\n" +
			"      --redirect-uri https://app.example.com/callback\n" +
			"  latchkey clients create --id my-spa --public --redirect-uri http://localhost:5173/cb \\\n" +
			"      --web-origin http://localhost:5173",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c.ID == "" {
				c.ID = rand.Text()
			}
			var secret, hash string
			if !c.Public && c.TokenEndpointAuthMethod != "private_key_jwt" {
				var err error
				if secret, hash, err = provider.GenerateClientSecret(); err != nil {
					return fmt.Errorf("create client: %w", err)
				}
				c.Secret = secret
			}
			if err := c.Validate(); err != nil {
				return err
			}
			stored := c.Client()
			stored.SecretHash = hash
			return a.withStore(cmd.Context(), func(_ latchkey.Config, store *sqlstore.Store, _ *slog.Logger) error {
				if _, err := store.CreateClient(cmd.Context(), stored); errors.Is(err, storage.ErrAlreadyExists) {
					return fmt.Errorf("create client: client %q already exists", c.ID)
				} else if err != nil {
					return fmt.Errorf("create client: %w", err)
				}
				fmt.Fprintf(a.stdout, "client_id:      %s\n", stored.ID)
				if secret != "" {
					fmt.Fprintf(a.stdout, "client_secret:  %s\n", secret)
					fmt.Fprintf(a.stdout, "\nStore the secret now: it is not shown again.\n")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ID, "id", "", "client_id (default: random)")
	f.StringVar(&c.Name, "name", "", "name shown on the consent page (default: the ID)")
	f.StringArrayVar(&c.RedirectURIs, "redirect-uri", nil, "allowed redirect URI (repeatable)")
	f.StringArrayVar(&c.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "allowed post-logout redirect URI (repeatable)")
	f.StringSliceVar(&c.GrantTypes, "grant-type", nil, "authorization_code, refresh_token, client_credentials (default: the first two)")
	f.StringSliceVar(&c.Scopes, "scope", nil, "allowed scope (default: openid, profile, email, offline_access)")
	f.StringSliceVar(&c.Audience, "audience", nil, "allowed audience for client_credentials tokens")
	f.StringArrayVar(&c.WebOrigins, "web-origin", nil, "origin allowed to call the token endpoints from a browser (repeatable)")
	f.StringSliceVar(&c.Connections, "connection", nil, "connection the client may use, first is default (default: all)")
	f.BoolVar(&c.Public, "public", false, "public client: no secret, PKCE required")
	f.BoolVar(&c.FirstParty, "first-party", false, "skip the consent page")
	f.StringVar(&c.IDTokenSignedResponseAlg, "alg", "", "ID token signing algorithm: RS256 (default) or ES256")
	f.StringVar(&c.TokenEndpointAuthMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, private_key_jwt or none")
	f.StringVar(&c.JWKSURI, "jwks-uri", "", "the client's JWKS URL, for private_key_jwt")
	return cmd
}

func (a *app) clientsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(_ latchkey.Config, store *sqlstore.Store, _ *slog.Logger) error {
				clients, err := store.ListClients(cmd.Context())
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tTYPE\tFIRST PARTY\tALG\tREDIRECT URIS")
				for _, c := range clients {
					kind := "confidential"
					if c.Public {
						kind = "public"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, yesNo(c.FirstParty),
						orDash(c.IDTokenSigningAlg), orDash(strings.Join(c.RedirectURIs, " ")))
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) clientsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ latchkey.Config, store *sqlstore.Store, _ *slog.Logger) error {
				if err := store.DeleteClient(cmd.Context(), args[0]); errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("delete client: no client %q", args[0])
				} else if err != nil {
					return fmt.Errorf("delete client: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted client %s\n", args[0])
				return nil
			})
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
