package pagetest

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		have     string
		expected string // a substring of one problem; "" for none
	}{
		{"clean", `<html lang="en"><label for="e">E</label><input id="e" name="e"><input type="hidden" name="csrf"><button>Go</button></html>`, ""},
		{"wrapped label", `<html lang="en"><label>E <input name="e"></label></html>`, ""},
		{"no lang", `<html><p>x</p></html>`, "no lang"},
		{"unlabelled input", `<html lang="en"><input id="e" name="e"></html>`, "no <label for>"},
		{"input without id", `<html lang="en"><input name="e"></html>`, "no id"},
		{"inline style attribute", `<html lang="en"><p style="color:red">x</p></html>`, "inline style"},
		{"style element", `<html lang="en"><style>p{}</style></html>`, "<style>"},
		{"inline script", `<html lang="en"><script>alert(1)</script></html>`, "<script>"},
		{"event handler", `<html lang="en"><a onclick="x()">x</a></html>`, "event handler"},
		{"dangling describedby", `<html lang="en"><label for="e">E</label><input id="e" aria-describedby="nope"></html>`, `"nope"`},
		{"duplicate id", `<html lang="en"><p id="a"></p><p id="a"></p></html>`, "used 2 times"},
		{"two autofocus", `<html lang="en"><button autofocus>a</button><button autofocus>b</button></html>`, "autofocus"},
		{"nameless button", `<html lang="en"><button></button></html>`, "accessible name"},
		{"img without alt", `<html lang="en"><img src="x"></html>`, "alt"},
		{"javascript url", `<html lang="en"><a href=" JavaScript:x()">x</a></html>`, "javascript:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := Check([]byte(tc.have))
			if tc.expected == "" {
				if len(problems) > 0 {
					t.Fatalf("Check() = %q, expected none", problems)
				}
				return
			}
			for _, p := range problems {
				if strings.Contains(p, tc.expected) {
					return
				}
			}
			t.Fatalf("Check() = %q, expected a problem containing %q", problems, tc.expected)
		})
	}
}

func TestInputs(t *testing.T) {
	in, err := Inputs([]byte(`<form><input name="username" type="email" autocomplete="username webauthn"><input type="hidden" name="csrf" value="t"></form>`))
	if err != nil {
		t.Fatal(err)
	}
	if in["username"]["autocomplete"] != "username webauthn" || in["csrf"]["value"] != "t" {
		t.Fatalf("Inputs() = %v", in)
	}
}
