package contract

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// root is the repository, from this package's folder.
const root = "../.."

// spelled are the contract's values as they would be spelled out by code
// that does not take them from here. ConfigPath and TokenFile are found as
// ConfigDir, the marker paths as RunDir or the marker names.
var spelled = []string{
	FirewallFeatureID, FirewallBinary, ConfigDir, CacheDir, RunDir,
	ReadyMarkerName, FailedMarkerName, FirewallWait(), CLIPackage, CLIVersion,
	AuditDir, AuditVolume, AuditCountsName,
}

// TestSpelledOnce fails when a contract value appears as a literal in a Go
// file (its string literals, and N * time.Second for FirewallTimeout) or in
// a template outside this package. Tests, golden files, the generated
// examples, the shell scripts and the documentation may spell them: they
// pin or describe the values, and TestCLIVersionInShellAndDocs keeps the
// ones that matter in step.
func TestSpelledOnce(t *testing.T) {
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	var scanned int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			abs, _ := filepath.Abs(path)
			switch {
			case abs == self, d.Name() == "testdata", d.Name() == "examples", strings.HasPrefix(d.Name(), ".") && path != root:
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			scanned++
			for _, f := range goLiterals(t, path) {
				t.Errorf("%s:%d spells out %q: take it from package contract", rel, f.line, f.value)
			}
		case strings.HasPrefix(rel, "templates/files/"):
			scanned++
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(data), "\n") {
				for _, v := range spelled {
					if strings.Contains(line, v) {
						t.Errorf("%s:%d spells out %q: let the generator pass it in from package contract", rel, i+1, v)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 50 {
		t.Fatalf("scanned only %d files under %s: is the repository layout what this test expects?", scanned, root)
	}
}

type finding struct {
	line  int
	value string
}

// goLiterals returns the contract values spelled in the Go file at path.
func goLiterals(t *testing.T, path string) []finding {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	seconds := strconv.FormatInt(int64(FirewallTimeout/time.Second), 10)
	var out []finding
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				break
			}
			s, err := strconv.Unquote(n.Value)
			if err != nil {
				break
			}
			for _, v := range spelled {
				if strings.Contains(s, v) {
					out = append(out, finding{fset.Position(n.Pos()).Line, v})
				}
			}
		case *ast.BinaryExpr:
			if n.Op == token.MUL && (isInt(n.X, seconds) && isTimeSecond(n.Y) || isInt(n.Y, seconds) && isTimeSecond(n.X)) {
				out = append(out, finding{fset.Position(n.Pos()).Line, seconds + " * time.Second"})
			}
		}
		return true
	})
	return out
}

func isInt(e ast.Expr, v string) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.INT && lit.Value == v
}

func isTimeSecond(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Second" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "time"
}

// TestCLIVersionInShellAndDocs checks that .ci/setup, which installs the Dev
// Containers CLI and cannot import Go, and the READMEs name CLIVersion
// wherever they name a version of the CLI.
func TestCLIVersionInShellAndDocs(t *testing.T) {
	version := regexp.MustCompile(`\b\d+\.\d+\.\d+\b`)
	mentionsCLI := regexp.MustCompile(`(?i)devcontainer|dev containers`)
	for _, tc := range []struct {
		file string
		must string // a line that must be there
	}{
		{".ci/setup", CLIPackage + "@" + CLIVersion},
		{"README.md", "Dev Containers CLI " + CLIVersion},
		{"integration/README.md", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), tc.must) {
				t.Errorf("%s does not name %q", tc.file, tc.must)
			}
			for i, line := range strings.Split(string(data), "\n") {
				if !mentionsCLI.MatchString(line) {
					continue
				}
				for _, v := range version.FindAllString(line, -1) {
					if v != CLIVersion {
						t.Errorf("%s:%d names Dev Containers CLI %s, package contract %s:\n\t%s", tc.file, i+1, v, CLIVersion, line)
					}
				}
			}
		})
	}
}

// TestDependencyFree keeps this package importable from both sides: the
// same files on every platform, and the standard library only.
func TestDependencyFree(t *testing.T) {
	var files []string
	for _, goos := range []string{"linux", "darwin", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		if files == nil {
			files = pkg.GoFiles
		} else if !slices.Equal(files, pkg.GoFiles) {
			t.Errorf("builds %v on linux but %v on %s: package contract must build the same everywhere", files, pkg.GoFiles, goos)
		}
		for _, p := range pkg.Imports {
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("imports %s on %s: package contract must depend on the standard library only", p, goos)
			}
		}
	}
}
