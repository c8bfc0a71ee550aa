package passkey

import (
	"strings"
)

// zeroAAGUID is what authenticators report when they do not identify
// themselves (WebAuthn L3 §6.5.1: the AAGUID may be zero, e.g. without
// attestation).
const zeroAAGUID = "00000000-0000-0000-0000-000000000000"

// KnownAAGUIDs returns the names of well-known passkey providers by AAGUID
// (lower-case, 8-4-4-4-12). Each call returns a fresh map.
//
// Source: the community list github.com/passkeydeveloper/passkey-authenticator-aaguids
// (aaguid.json and dist/<aaguid>/meta.json), read in November 2026. That list
// now names fbfc3007-… "Apple Passwords"; we keep the name people know from
// their devices, "iCloud Keychain".
func KnownAAGUIDs() map[string]string {
	return map[string]string{
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
		"dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (Managed)",
		"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
		"adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
		"b5397666-4885-aa6b-cebf-e52262a439a2": "Chromium Browser",
		"771b48fd-d3d4-4f74-9232-fc157ab0507a": "Edge on Mac",
		"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
		"9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
		"6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
		"6e96969e-a5cf-4aad-9b56-305fe6c82795": "Windows Hello",
		"d3452668-01fd-4c12-926c-83a4204853aa": "Microsoft Password Manager",
		"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
		"d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
		"531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
		"50726f74-6f6e-5061-7373-50726f746f6e": "Proton Pass",
		"fdb141b2-5d84-443e-8a35-4698c205a502": "KeePassXC",
		"53414d53-554e-4700-0000-000000000000": "Samsung Pass",
		"b84e4048-15dc-4dd0-8640-f4f60813c8af": "NordPass",
		"0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6": "Keeper",
		"ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 Series",
		"2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 Series with NFC",
	}
}

// ProviderName returns the known provider name of an AAGUID, or "".
func ProviderName(aaguid string) string {
	return KnownAAGUIDs()[strings.ToLower(aaguid)]
}

// DefaultName names a new passkey: the provider's name when the AAGUID is
// known; for an unknown or all-zero AAGUID, the browser and operating system
// read from the User-Agent ("Chrome on macOS"); "Passkey" when neither says
// anything.
func DefaultName(aaguid, userAgent string) string {
	if n := ProviderName(aaguid); n != "" {
		return n
	}
	if n := NameFromUserAgent(userAgent); n != "" {
		return n
	}
	return "Passkey"
}

// maxUserAgent bounds what NameFromUserAgent reads; real User-Agent strings
// are a few hundred bytes.
const maxUserAgent = 1024

// NameFromUserAgent returns "<browser> on <OS>" from a User-Agent header
// ("Chrome on macOS", "Safari on iOS", "Firefox on Windows"), the browser or
// the OS alone when only one is recognised, or "" for an empty or unknown
// string. It is a small classifier of the common browsers, not a full
// User-Agent parser; hostile input costs at most maxUserAgent bytes of work.
func NameFromUserAgent(ua string) string {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	browser, os := uaBrowser(ua), uaOS(ua)
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	default:
		return os
	}
}

// uaBrowser recognises the browser. Order matters: Edge, Opera and Samsung
// Internet also say "Chrome", Chrome also says "Safari".
func uaBrowser(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"},
		{"EdgA/", "Edge"},
		{"EdgiOS/", "Edge"},
		{"OPR/", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"},
		{"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"},
		{"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"},
		{"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return ""
}

// uaOS recognises the operating system. iPhone and iPad UAs also say
// "Mac OS X", Android ones also say "Linux".
func uaOS(ua string) string {
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iOS"},
		{"iPad", "iPadOS"},
		{"Android", "Android"},
		{"CrOS", "ChromeOS"},
		{"Windows", "Windows"},
		{"Macintosh", "macOS"},
		{"Mac OS X", "macOS"},
		{"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return o.name
		}
	}
	return ""
}
