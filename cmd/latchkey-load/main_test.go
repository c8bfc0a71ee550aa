package main

import (
	"testing"
	"time"
)

func TestLoopbackURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:9000", "https://127.0.0.2"} {
		if _, err := loopbackURL(ok); err != nil {
			t.Errorf("loopbackURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"http://example.com", "http://10.0.0.1:8080", "http://0.0.0.0:8080", "ftp://127.0.0.1", "http://127.0.0.1.example.com"} {
		if _, err := loopbackURL(bad); err == nil {
			t.Errorf("loopbackURL(%q) accepted a non-loopback target", bad)
		}
	}
}

func TestPlanSteps(t *testing.T) {
	o, err := parseFlags([]string{"-scenario", "client_credentials,refresh", "-c", "8,64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := planSteps(o); len(got) != 4 || got[1].String() != "client_credentials:64" || got[2].String() != "refresh:8" {
		t.Errorf("bare names: got %v", got)
	}
	o, err = parseFlags([]string{"-scenario", "login:8,client_credentials:4"})
	if err != nil {
		t.Fatal(err)
	}
	if got := planSteps(o); len(got) != 1 || got[0].String() != "login:8,client_credentials:4" {
		t.Errorf("together: got %v", got)
	}
	for _, bad := range [][]string{{"-scenario", "nope"}, {"-duration", "11m"}, {"-c", "0"}, {"-target", "http://example.com"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %s", p)
	}
	if p := percentile(d, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %s", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("empty p99 = %s", p)
	}
}

func TestParseForm(t *testing.T) {
	body := `<form method="get" action="/x"><input name="q"></form>
<form method="post" action="/u/login?state=abc" class="form"><input type="hidden" name="csrf" value="tok">
<input type="email" name="username" value="a@example.com"><button type="submit">Go</button></form>`
	action, v, err := parseForm(body)
	if err != nil {
		t.Fatal(err)
	}
	if action != "/u/login?state=abc" || v.Get("csrf") != "tok" || v.Get("username") != "a@example.com" || v.Has("q") {
		t.Errorf("parseForm: action %q values %v", action, v)
	}
	if _, _, err := parseForm("<p>no form</p>"); err == nil {
		t.Error("parseForm accepted a page without a form")
	}
}
