package gitsafe

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestCheckRefName(t *testing.T) {
	good := []string{"refs/heads/main", "refs/heads/feature/x-1", "refs/heads/v1.2", "refs/heads/a_b"}
	for _, name := range good {
		if err := CheckRefName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	bad := map[string]string{
		"":                                       "empty",
		"main":                                   "not under refs/",
		"refs/heads/a..b":                        "'..'",
		"refs/heads/../../etc/passwd":            "'..'",
		"refs/heads/x\x1b[2J":                    "not allowed",
		"refs/heads/x\ny":                        "not allowed",
		"refs/heads/with space":                  "not allowed",
		"refs/heads/x@{1}":                       "'@{'",
		"refs/heads/x.lock":                      ".lock",
		"refs/heads/.hidden":                     "starts with '.'",
		"refs/heads/-option":                     "starts with '.' or '-'",
		"refs/heads//x":                          "empty component",
		"refs/heads/x/":                          "ends with",
		"refs/heads/x.":                          "ends with",
		"refs/heads/a:b":                         "not allowed",
		"refs/heads/caf\xc3\xa9":                 "not allowed",
		"refs/heads/" + strings.Repeat("a", 250): "255",
	}
	for name, want := range bad {
		err := CheckRefName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to say %q", name, err, want)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\n") {
			t.Errorf("%q: the error carries control characters: %q", name, err)
		}
	}
}

// TestCheckRefNameAgreesWithGit: every name CheckRefName accepts, git
// accepts too.
func TestCheckRefNameAgreesWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: ", err)
	}
	for _, name := range []string{"refs/heads/main", "refs/heads/a/b/c", "refs/heads/v1.2-rc_3", "refs/heads/x.lock", "refs/heads/a..b", "refs/heads/x~1"} {
		gitOK := exec.Command("git", "check-ref-format", name).Run() == nil
		if CheckRefName(name) == nil && !gitOK {
			t.Errorf("%q: accepted, but git refuses it", name)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := map[string]string{
		"plain text\n\ttabbed":  "plain text\n\ttabbed",
		"\x1b]0;pwned\x07title": `\x1b]0;pwned\x07title`,
		"\x1b[2K\rremote: ok":   `\x1b[2K\x0dremote: ok`,
		"c1 \xc2\x9b31m":        `c1 \u009b31m`,
		"bidi \u202egnp.exe":    `bidi \u202egnp.exe`,
		"bad utf8 \xff\xfe":     `bad utf8 \xff\xfe`,
		"unicode ok: é ü 日本":    "unicode ok: é ü 日本",
		"del \x7f":              `del \x7f`,
	}
	for in, want := range tests {
		if got := Sanitize([]byte(in)); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFlagPath(t *testing.T) {
	flagged := map[string]string{
		".devcontainer/devcontainer.json": "dev container",
		"sub/.devcontainer/Dockerfile":    "dev container",
		".vscode/tasks.json":              "VS Code",
		".VSCode/settings.json":           "VS Code",
		".gitmodules":                     "submodules",
		".envrc":                          "direnv",
		"web/.envrc":                      "direnv",
		".husky/pre-commit":               "hooks",
		".githooks/post-checkout":         "hooks",
		"lefthook.yml":                    "lefthook",
		".pre-commit-config.yaml":         "pre-commit",
		".gitattributes":                  "filters",
	}
	for path, want := range flagged {
		if got := FlagPath(path, "100644"); !strings.Contains(got, want) {
			t.Errorf("FlagPath(%q) = %q, want it to say %q", path, got, want)
		}
	}
	for _, path := range []string{"main.go", "docs/vscode.md", ".envrc.example", "src/.devcontainer", "lefthook.yml.bak", "husky/x"} {
		if got := FlagPath(path, "100644"); got != "" {
			t.Errorf("FlagPath(%q) = %q, want nothing", path, got)
		}
	}
	if got := FlagPath("link", ModeSymlink); !strings.Contains(got, "symlink") {
		t.Errorf("a symlink: %q", got)
	}
	if got := FlagPath("vendor/lib", ModeGitlink); !strings.Contains(got, "submodule") {
		t.Errorf("a gitlink: %q", got)
	}
}

func TestHostArgs(t *testing.T) {
	args := HostArgs("fetch", "x")
	for _, want := range []string{"core.hooksPath=/dev/null", "core.fsmonitor=false", "protocol.ext.allow=never"} {
		i := slices.Index(args, want)
		if i < 1 || args[i-1] != "-c" {
			t.Errorf("%v: no -c %s", args, want)
		}
	}
	if args[len(args)-2] != "fetch" || args[len(args)-1] != "x" {
		t.Errorf("%v: the command does not come last", args)
	}
}

func TestReadBundleHeader(t *testing.T) {
	oid := strings.Repeat("a", 40)
	oid2 := strings.Repeat("b", 40)
	good := "# v2 git bundle\n-" + oid2 + " base\n" + oid + " refs/heads/main\n" + oid + " HEAD\n\nPACK\x00\x00\x00\x02"
	b, err := ReadBundleHeader(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 2 || len(b.Prerequisites) != 1 || b.Prerequisites[0] != oid2 || len(b.Refs) != 2 || b.Refs[0] != (Ref{"refs/heads/main", oid}) {
		t.Errorf("parsed %+v", b)
	}
	if want := int64(len(good) - 8); b.PackOffset != want {
		t.Errorf("pack offset %d, want %d", b.PackOffset, want)
	}
	v3 := "# v3 git bundle\n@object-format=sha256\n" + strings.Repeat("c", 64) + " refs/heads/x\n\nPACK"
	if b, err := ReadBundleHeader(strings.NewReader(v3)); err != nil || b.ObjectFormat != "sha256" {
		t.Errorf("v3 sha256: %+v, %v", b, err)
	}
	bad := map[string]string{
		"not a bundle":   "\x1b[31mhello\n",
		"empty":          "",
		"no pack":        "# v2 git bundle\n" + oid + " refs/heads/main\n\nNOPE",
		"no blank line":  "# v2 git bundle\n" + oid + " refs/heads/main\n",
		"short oid":      "# v2 git bundle\n" + oid[:39] + " refs/heads/main\n\nPACK",
		"upper oid":      "# v2 git bundle\n" + strings.ToUpper(oid) + " refs/heads/main\n\nPACK",
		"no ref name":    "# v2 git bundle\n" + oid + "\n\nPACK",
		"filter":         "# v3 git bundle\n@filter=blob:none\n" + oid + " refs/heads/x\n\nPACK",
		"v2 capability":  "# v2 git bundle\n@object-format=sha1\n" + oid + " refs/heads/x\n\nPACK",
		"sha1 in sha256": "# v3 git bundle\n@object-format=sha256\n" + oid + " refs/heads/x\n\nPACK",
		"huge header":    "# v2 git bundle\n" + strings.Repeat(oid+" refs/heads/"+strings.Repeat("x", 200)+"\n", MaxHeader/240+1) + "\nPACK",
	}
	for name, in := range bad {
		if _, err := ReadBundleHeader(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.ContainsAny(err.Error(), "\x1b") {
			t.Errorf("%s: the error carries an escape: %q", name, err)
		}
	}
}
