package passkey_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey/connector/passkey"
)

func TestDefaultName(t *testing.T) {
	const (
		macChrome  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
		macSafari  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
		iPhone     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
		iPhoneCh   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
		winEdge    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
		winFirefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
		android    = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
		samsung    = "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
		linuxFF    = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
		chromeOS   = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		zero       = "00000000-0000-0000-0000-000000000000"
	)
	tests := []struct {
		name     string
		aaguid   string
		ua       string
		expected string
	}{
		{"iCloud Keychain", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", macSafari, "iCloud Keychain"},
		{"Google Password Manager", "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", android, "Google Password Manager"},
		{"upper-case AAGUID", "EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4", "", "Google Password Manager"},
		{"Windows Hello", "08987058-cadc-4b81-b6e1-30de50dcbe96", winEdge, "Windows Hello"},
		{"1Password", "bada5566-a7aa-401f-bd96-45619a55120d", "", "1Password"},
		{"Bitwarden", "d548826e-79b4-db40-a3d8-11116f7e8349", "", "Bitwarden"},
		{"YubiKey", "ee882879-721c-4913-9775-3dfcce97072a", "", "YubiKey 5 Series"},
		{"zero: Chrome on macOS", zero, macChrome, "Chrome on macOS"},
		{"zero: Safari on macOS", zero, macSafari, "Safari on macOS"},
		{"zero: Safari on iOS", zero, iPhone, "Safari on iOS"},
		{"zero: Chrome on iOS", zero, iPhoneCh, "Chrome on iOS"},
		{"zero: Edge on Windows", zero, winEdge, "Edge on Windows"},
		{"zero: Firefox on Windows", zero, winFirefox, "Firefox on Windows"},
		{"zero: Chrome on Android", zero, android, "Chrome on Android"},
		{"zero: Samsung Internet", zero, samsung, "Samsung Internet on Android"},
		{"zero: Firefox on Linux", zero, linuxFF, "Firefox on Linux"},
		{"zero: Chrome on ChromeOS", zero, chromeOS, "Chrome on ChromeOS"},
		{"unknown AAGUID, unknown UA", "12345678-1234-1234-1234-123456789012", "curl/8.5.0", "Passkey"},
		{"zero, no UA", zero, "", "Passkey"},
		{"zero, OS only", zero, "Something (Windows NT 10.0)", "Windows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := passkey.DefaultName(tt.aaguid, tt.ua); got != tt.expected {
				t.Fatalf("DefaultName(%s, %q) = %q, want %q", tt.aaguid, tt.ua, got, tt.expected)
			}
		})
	}
}

func TestKnownAAGUIDs(t *testing.T) {
	for aaguid, name := range passkey.KnownAAGUIDs() {
		if len(aaguid) != 36 || strings.ToLower(aaguid) != aaguid || name == "" {
			t.Errorf("bad entry %q: %q", aaguid, name)
		}
	}
}

func FuzzNameFromUserAgent(f *testing.F) {
	for _, s := range []string{"", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/1 Safari/1", "Edg/Chrome/Safari/iPhone", strings.Repeat("Chrome/", 500), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		n := passkey.NameFromUserAgent(ua)
		if len(n) > 40 || !utf8.ValidString(n) {
			t.Fatalf("NameFromUserAgent(%q) = %q", ua, n)
		}
		if d := passkey.DefaultName("00000000-0000-0000-0000-000000000000", ua); d == "" {
			t.Fatal("empty default name")
		}
	})
}
