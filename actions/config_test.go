package actions

import (
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadScripts(t *testing.T) {
	fsys := fstest.MapFS{
		"a.js":       {Data: []byte(`exports.onExecutePostLogin = async () => {};`)},
		"dir/b.js":   {Data: []byte(`exports.onExecutePostLogin = async () => {};`)},
		"broken.js":  {Data: []byte(`exports.onExecutePostLogin = async () => {`)},
		"nothing.js": {Data: []byte(`// empty`)},
		"big.js":     {Data: []byte("//" + strings.Repeat("x", MaxScriptBytes))},
	}
	logger := slog.New(slog.DiscardHandler)
	acts, err := LoadScripts([]Config{{Name: "a", Script: "a.js"}, {Name: "b", Script: "dir/b.js", Timeout: 200 * time.Millisecond}}, fsys, logger)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Name != "a" || acts[0].Timeout != DefaultTimeout || acts[1].Name != "b" || acts[1].Timeout != 200*time.Millisecond {
		t.Errorf("actions %+v", acts)
	}
	if s, ok := acts[1].Hook.(*Script); !ok || s.Name() != "b" {
		t.Errorf("hook %T", acts[1].Hook)
	}

	tests := []struct {
		name string
		cfgs []Config
		want string
	}{
		{"no name", []Config{{Script: "a.js"}}, "action 1: name is empty"},
		{"duplicate", []Config{{Name: "a", Script: "a.js"}, {Name: "a", Script: "dir/b.js"}}, `"a": name used twice`},
		{"no script", []Config{{Name: "a"}}, "script is empty"},
		{"absolute path", []Config{{Name: "a", Script: "/etc/passwd"}}, "must be relative"},
		{"dot-dot", []Config{{Name: "a", Script: "../a.js"}}, "must be relative"},
		{"missing file", []Config{{Name: "a", Script: "nope.js"}}, "file does not exist"},
		{"negative timeout", []Config{{Name: "a", Script: "a.js", Timeout: -1}}, "outside"},
		{"timeout too long", []Config{{Name: "a", Script: "a.js", Timeout: time.Minute}}, "outside"},
		{"syntax error", []Config{{Name: "a", Script: "a.js"}, {Name: "broken", Script: "broken.js"}}, `compile action "broken"`},
		{"no export", []Config{{Name: "n", Script: "nothing.js"}}, "does not export"},
		{"too big", []Config{{Name: "big", Script: "big.js"}}, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, err := LoadScripts(tt.cfgs, fsys, logger)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if acts != nil {
				t.Errorf("actions %+v with an error", acts)
			}
		})
	}
}
