package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userAllowlist is a firewall.jsonc a user has commented and laid out.
const userAllowlist = `{
  // Our allowlist: reviewed by the security team.
  "domains": [
    "api.example.com", // the API
    /* mirrors */ "deb.debian.org:80,443"
  ],
  "cidrs": ["198.51.100.7"], // the build farm
  "deny": [
    "bad.example.com"
  ]
  // the end
}
`

// TestEditAllowlist checks each edit against its golden file: the user's
// comments and layout stay, the entry comes with its own comment, and a
// conflicting entry of the other side goes.
func TestEditAllowlist(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		edit AllowlistEdit
	}{
		{"allow-name", userAllowlist, AllowlistEdit{Entry: "sibling.example.org:22", Comment: "devbox allow, alice, 2026-12-02"}},
		{"allow-cidr-inline", userAllowlist, AllowlistEdit{Entry: "[2001:db8::/32]:443", Comment: "devbox allow, alice, 2026-12-02"}},
		{"allow-denied", userAllowlist, AllowlistEdit{Entry: "bad.example.com", Comment: "devbox allow, alice, 2026-12-02"}},
		{"deny-allowed", userAllowlist, AllowlistEdit{Deny: true, Entry: "deb.debian.org", Comment: "devbox deny, alice, 2026-12-02"}},
		{"deny-cidr", userAllowlist, AllowlistEdit{Deny: true, Entry: "198.51.100.7", Comment: "devbox deny, alice, 2026-12-02"}},
		{"deny-new-key", "{\n  // nothing denied yet\n  \"domains\": [\"a.example.com\"]\n}\n", AllowlistEdit{Deny: true, Entry: "**.ads.example.com", Comment: "devbox deny, alice, 2026-12-02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "firewall.jsonc")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := EditAllowlist(path, tc.edit)
			if err != nil || !res.Changed {
				t.Fatalf("edit: %+v, %v", res, err)
			}
			got, _ := os.ReadFile(path)
			golden := filepath.Join("testdata", "allowlist", tc.name+".jsonc")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./generator -run TestEditAllowlist -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs (message %q):\n%s", golden, res.Message, diffLines(string(want), string(got)))
			}
			for _, c := range []string{"// Our allowlist", "// the API", "mirrors", "// the build farm", "// the end", "// nothing denied yet", "// devbox "} {
				if strings.Contains(tc.in, c) || c == "// devbox " {
					if !strings.Contains(string(got), c) {
						t.Errorf("comment %q lost:\n%s", c, got)
					}
				}
			}
		})
	}
}

// TestEditAllowlistRefuses checks that a bad entry, a duplicate and a
// broken file leave the file as it was, and that the error names the
// thing at fault.
func TestEditAllowlistRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		edit     AllowlistEdit
		wantErr  string // "" means a no-op with a message
	}{
		{"public suffix", userAllowlist, AllowlistEdit{Entry: "**.github.io"}, `devbox allow "**.github.io": "github.io" is a public suffix`},
		{"bad port", userAllowlist, AllowlistEdit{Entry: "a.example.com:0"}, `devbox allow "a.example.com:0"`},
		{"catch-all", userAllowlist, AllowlistEdit{Entry: "0.0.0.0/1"}, `devbox allow "0.0.0.0/1"`},
		{"deny with ports", userAllowlist, AllowlistEdit{Deny: true, Entry: "x.example.com:443"}, `devbox deny "x.example.com:443"`},
		{"broken file", "{\n  \"domains\": [\"a.example.com\",,]\n}\n", AllowlistEdit{Entry: "b.example.com"}, "firewall.jsonc:2:"},
		{"unknown key", "{\n  \"audit\": \"30m\"\n}\n", AllowlistEdit{Entry: "b.example.com"}, `"audit"`},
		{"duplicate", userAllowlist, AllowlistEdit{Entry: "API.example.com."}, ""},
		{"duplicate ports", userAllowlist, AllowlistEdit{Entry: "deb.debian.org:443,80"}, ""},
		{"duplicate deny", userAllowlist, AllowlistEdit{Deny: true, Entry: "bad.example.com"}, ""},
		{"duplicate optional", "{\"optionalDomains\": [\"opt.example.com\"]}\n", AllowlistEdit{Entry: "opt.example.com:443"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "firewall.jsonc")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := EditAllowlist(path, tc.edit)
			switch {
			case tc.wantErr == "" && (err != nil || res.Changed || !strings.Contains(res.Message, "already")):
				t.Errorf("duplicate: %+v, %v; want a no-op saying so", res, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr != "" && !IsInputError(err):
				t.Errorf("error %v is not an input error", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.in {
				t.Errorf("file changed:\n%s", got)
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("files left beside it: %v", entries)
			}
		})
	}
}
