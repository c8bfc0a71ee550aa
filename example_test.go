package latchkey_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// An application mounts Latchkey under /auth of its own mux, over a store it
// opened itself (here SQLite in a temporary directory; a postgres:// DSN
// works the same way).
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "latchkey-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(dir, "app.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	srv, err := latchkey.New(ctx, latchkey.Config{
		// Endpoints are served under the issuer's path: /auth/authorize,
		// /auth/oauth/token, /auth/.well-known/openid-configuration...
		Issuer: "http://localhost:8080/auth",
		// In a real application: from a secret store, 32 random bytes.
		Secret: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		Clients: []latchkey.ClientConfig{{
			ID:           "my-spa",
			Public:       true,
			RedirectURIs: []string{"http://localhost:8080/callback"},
			WebOrigins:   []string{"http://localhost:8080"},
		}},
		Demo: new(false),
	}, store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/auth/", srv) // no StripPrefix: routes include the issuer path
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "the application's own pages")
	})

	// http.ListenAndServe(":8080", mux) in a real application.
	ts := httptest.NewServer(mux)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/auth/healthz")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK ok
}
