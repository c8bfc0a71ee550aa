package latchkey

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/latchkey/latchkey/actions"
)

// ActionsConfig lists the deployment's post-login actions.
type ActionsConfig struct {
	// PostLogin are JavaScript actions, run in this order after the first
	// factor of every login (see package actions):
	//
	//	actions:
	//	  post_login:
	//	    - name: skip-mfa-for-passkeys
	//	      script: actions/passkey-mfa.js
	//	      timeout: 500ms
	PostLogin []actions.Config `yaml:"post_login"`
	// Dir is the directory script paths are relative to: LoadConfig sets
	// it to the configuration file's directory; empty means the working
	// directory. Not settable from YAML.
	Dir string `yaml:"-"`
	// Hooks are Go post-login actions of an embedding application. They
	// run before the scripts, in order. Not settable from YAML.
	Hooks []actions.Action `yaml:"-"`
}

// actionsRunner compiles the configured scripts (a broken one stops the
// start) and returns the Runner of all actions, or nil when there are none.
func (c Config) actionsRunner(logger *slog.Logger) (*actions.Runner, error) {
	if len(c.Actions.PostLogin) == 0 && len(c.Actions.Hooks) == 0 {
		return nil, nil
	}
	dir := c.Actions.Dir
	if dir == "" {
		dir = "."
	}
	scripts, err := actions.LoadScripts(c.Actions.PostLogin, os.DirFS(dir), logger)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	all := make([]actions.Action, 0, len(c.Actions.Hooks)+len(scripts))
	for i, h := range c.Actions.Hooks {
		if h.Hook == nil {
			return nil, fmt.Errorf("actions: hook %d (%q) has no Hook", i+1, h.Name)
		}
		if h.Timeout < 0 || h.Timeout > actions.MaxTimeout {
			return nil, fmt.Errorf("actions: hook %q: timeout %v is outside 0..%v", h.Name, h.Timeout, actions.MaxTimeout)
		}
		if h.Timeout == 0 {
			h.Timeout = actions.DefaultTimeout
		}
		all = append(all, h)
	}
	all = append(all, scripts...)
	return actions.NewRunner(logger, all...), nil
}
