package passkeytest_test

import (
	"testing"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
)

func TestParseAAGUID(t *testing.T) {
	tests := []struct {
		name     string
		have     string
		expected [16]byte
		ok       bool
	}{
		{"chrome virtual", "01020304-0506-0708-0102-030405060708", passkeytest.AAGUIDChromeVirtual(), true},
		{"zero", "00000000-0000-0000-0000-000000000000", passkeytest.AAGUIDZero(), true},
		{"upper case", "EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4", [16]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}, true},
		{"no dashes", "ea9b8d664d011d213ce4b6b48cb575d4", [16]byte{}, false},
		{"not hex", "zz9b8d66-4d01-1d21-3ce4-b6b48cb575d4", [16]byte{}, false},
		{"empty", "", [16]byte{}, false},
		{"sign", "+1020304-0506-0708-0102-030405060708", [16]byte{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := passkeytest.ParseAAGUID(tt.have)
			if (err == nil) != tt.ok || got != tt.expected {
				t.Fatalf("ParseAAGUID(%q) = %x, %v", tt.have, got, err)
			}
		})
	}
}

func FuzzParseAAGUID(f *testing.F) {
	f.Add("01020304-0506-0708-0102-030405060708")
	f.Add("+1020304-0506-0708-0102-030405060708")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = passkeytest.ParseAAGUID(s)
	})
}
