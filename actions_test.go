package latchkey

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/actions"
)

// TestActionsConfig: scripts are read relative to the configuration file,
// Go hooks run before them, and a broken script or hook stops the start.
func TestActionsConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "actions"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("actions/testdata/passkey-mfa.js")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "actions", "skip.js"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "latchkey.yaml")
	yaml := "secret: " + strings.Repeat("ab", 32) + "\nactions:\n  post_login:\n    - name: skip\n      script: actions/skip.js\n      timeout: 500ms\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Actions.Dir != dir || len(cfg.Actions.PostLogin) != 1 || cfg.Actions.PostLogin[0].Timeout.Milliseconds() != 500 {
		t.Fatalf("actions config: %+v", cfg.Actions)
	}
	hook := actions.Action{Name: "go-hook", Hook: actions.HookFunc(func(context.Context, *actions.Event, *actions.API) error { return nil })}
	cfg.Actions.Hooks = []actions.Action{hook}
	r, err := cfg.actionsRunner(nil)
	if err != nil || r == nil || r.Len() != 2 {
		t.Fatalf("actionsRunner: %v, %v", r, err)
	}

	tests := []struct {
		name string
		have func(c *Config)
		want string
	}{
		{"missing script", func(c *Config) { c.Actions.PostLogin[0].Script = "actions/nope.js" }, "nope.js"},
		{"escaping path", func(c *Config) { c.Actions.PostLogin[0].Script = "../x.js" }, "must be relative"},
		{"hook without function", func(c *Config) { c.Actions.Hooks = []actions.Action{{Name: "empty"}} }, "has no Hook"},
		{"hook timeout", func(c *Config) {
			c.Actions.Hooks = []actions.Action{{Name: "slow", Hook: hook.Hook, Timeout: actions.MaxTimeout + 1}}
		}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Actions.PostLogin = append([]actions.Config(nil), cfg.Actions.PostLogin...)
			tc.have(&c)
			if _, err := c.actionsRunner(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("actionsRunner: %v, want an error with %q", err, tc.want)
			}
		})
	}
	empty := Config{}
	if r, err := empty.actionsRunner(nil); r != nil || err != nil {
		t.Errorf("no actions: %v, %v", r, err)
	}
}
