package actions

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"
)

// Config declares one JavaScript action of a deployment, as the latchkey
// binary's configuration file lists them (in the order they run):
//
//	actions:
//	  post_login:
//	    - name: skip-mfa-for-passkeys
//	      script: actions/passkey-mfa.js
//	      timeout: 500ms
type Config struct {
	// Name identifies the action in logs and errors; unique.
	Name string `yaml:"name" json:"name"`
	// Script is the path of the JavaScript file, relative to the fs.FS
	// given to LoadScripts (the config file's directory for the binary).
	Script string `yaml:"script" json:"script"`
	// Timeout bounds one execution: zero means DefaultTimeout; at most
	// MaxTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

// LoadScripts reads and compiles the configured scripts from fsys and
// returns them as Actions for NewRunner, in order. It fails on the first
// invalid entry, unreadable file, syntax error or script without an
// onExecutePostLogin export, so a broken action stops the server at
// start-up, not a login. Console output of the scripts goes to logger.
func LoadScripts(cfgs []Config, fsys fs.FS, logger *slog.Logger) ([]Action, error) {
	out := make([]Action, 0, len(cfgs))
	seen := make(map[string]bool, len(cfgs))
	for i, c := range cfgs {
		if c.Name == "" {
			return nil, fmt.Errorf("load action %d: name is empty", i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("load action %q: name used twice", c.Name)
		}
		seen[c.Name] = true
		if c.Script == "" {
			return nil, fmt.Errorf("load action %q: script is empty", c.Name)
		}
		if !fs.ValidPath(c.Script) {
			return nil, fmt.Errorf("load action %q: script path %q must be relative, without . or .. elements", c.Name, c.Script)
		}
		if c.Timeout < 0 || c.Timeout > MaxTimeout {
			return nil, fmt.Errorf("load action %q: timeout %v is outside 0..%v", c.Name, c.Timeout, MaxTimeout)
		}
		if st, err := fs.Stat(fsys, c.Script); err == nil && st.Size() > MaxScriptBytes {
			return nil, fmt.Errorf("load action %q: %s is %d bytes, over %d", c.Name, c.Script, st.Size(), MaxScriptBytes)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load action %q: %w", c.Name, err)
		}
		src, err := fs.ReadFile(fsys, c.Script)
		if err != nil {
			return nil, fmt.Errorf("load action %q: %w", c.Name, err)
		}
		s, err := NewScript(c.Name, string(src), WithLogger(logger))
		if err != nil {
			return nil, err
		}
		timeout := c.Timeout
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		out = append(out, Action{Name: c.Name, Hook: s, Timeout: timeout})
	}
	return out, nil
}
