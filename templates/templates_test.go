package templates

import (
	"io/fs"
	"strings"
	"testing"
)

func TestTemplatesParse(t *testing.T) {
	if _, err := parsed(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(FS(), "*.tmpl")
	if err != nil || len(names) < 3 {
		t.Fatalf("templates %v: %v", names, err)
	}
	names, err = fs.Glob(FS(), "feature/*.tmpl")
	if err != nil || len(names) != 2 {
		t.Fatalf("templates %v: %v", names, err)
	}
}

func TestStatic(t *testing.T) {
	for _, name := range []string{"postgres-init.sql", "postgres-hba.conf", "redis.conf", "mongodb-init.js"} {
		if data, err := Static(name); err != nil || len(data) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Static("missing"); err == nil {
		t.Error("a missing file has content")
	}
}

func TestHelpers(t *testing.T) {
	if got := comment("a\nb\rc"); got != "// a b c" {
		t.Errorf("comment = %q: a line break would end the comment early", got)
	}
	if comment("") != "" {
		t.Error("empty comment is not empty")
	}
	if comma(0, 2) != "," || comma(1, 2) != "" {
		t.Error("comma")
	}
	cases := []struct {
		in   any
		want string
	}{
		{[]string{"a", `b"c`}, `["a", "b\"c"]`},
		{[]string{}, `[]`},
		{map[string]string{"version": "22", "a": "b"}, `{"a": "b", "version": "22"}`},
		{map[string]string{}, `{}`},
		{true, `true`},
	}
	for _, c := range cases {
		if got, err := toJSON(c.in); err != nil || got != c.want {
			t.Errorf("toJSON(%v) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := Execute("missing.tmpl", nil); err == nil || !strings.Contains(err.Error(), "missing.tmpl") {
		t.Errorf("missing template: %v", err)
	}
}
