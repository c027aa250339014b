package templates

import (
	"embed"
	"encoding/json"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/template"
)

// files is the embedded tree. Names ending in .tmpl are text/template
// sources; every other file is copied as it is.
//
//go:embed files
var files embed.FS

// FS returns the embedded files, rooted at the folder that mirrors
// .devcontainer/. The firewall feature's files are templates in feature/
// (the generator names their folder after the feature's id).
func FS() fs.FS {
	sub, err := fs.Sub(files, "files")
	if err != nil {
		panic(err) // the embed directive guarantees the folder exists
	}
	return sub
}

// Static returns the content of a file that is copied unchanged.
func Static(name string) ([]byte, error) {
	return fs.ReadFile(FS(), name)
}

// parsed holds the templates, parsed once: parsing on every call would cost
// more than filling them.
var parsed = sync.OnceValues(func() (*template.Template, error) {
	return template.New("devbox").
		Funcs(template.FuncMap{"json": toJSON, "comment": comment, "comma": comma}).
		Option("missingkey=error").
		ParseFS(FS(), "*.tmpl", "feature/*.tmpl")
})

// Execute fills the template called name (for example "Dockerfile.tmpl",
// or "install.sh.tmpl" for feature/install.sh.tmpl) with data.
func Execute(name string, data any) ([]byte, error) {
	t, err := parsed()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// toJSON renders v as JSON on one line for use inside a JSONC template,
// with a space after each comma and colon, as a person would write it.
func toJSON(v any) (string, error) {
	switch v := v.(type) {
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			b, _ := json.Marshal(s)
			parts[i] = string(b)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]string:
		keys := slices.Sorted(maps.Keys(v))
		parts := make([]string, len(keys))
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(v[k])
			parts[i] = string(kb) + ": " + string(vb)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// comment turns s into a "// " comment safe to put at the end of a JSONC
// line: a line break in s would end the comment and corrupt the file.
func comment(s string) string {
	if s == "" {
		return ""
	}
	return "// " + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// comma returns the separator after element i of a list of n elements: a
// comma must come before a trailing comment, not after it.
func comma(i, n int) string {
	if i < n-1 {
		return ","
	}
	return ""
}
