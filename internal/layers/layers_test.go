// Package layers enforces the import direction of the architecture:
// cmd → wire → executor → planner → parser, executor → operators, and the
// shared value packages (types, expr, sqlerr) below everything.
package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/sluicedb/sluice/"

// forbidden maps a package path prefix (relative to the module) to the
// prefixes it must not import.
var forbidden = map[string][]string{
	"types":     {"expr", "sqlerr", "parser", "planner", "executor", "operators", "wire", "cmd"},
	"sqlerr":    {"types", "expr", "parser", "planner", "executor", "operators", "wire", "cmd"},
	"expr":      {"parser", "planner", "executor", "operators", "wire", "cmd"},
	"parser":    {"planner", "executor", "operators", "wire", "cmd"},
	"planner":   {"executor", "operators", "wire", "cmd"},
	"operators": {"parser", "planner", "executor", "wire", "cmd"},
	"executor":  {"wire", "cmd"},
	"wire":      {"cmd"},
	"internal":  {"wire", "cmd"},
}

func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		var rules []string
		for prefix, bad := range forbidden {
			if rel == prefix || strings.HasPrefix(rel, prefix+"/") {
				rules = bad
			}
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			target := strings.TrimPrefix(p, module)
			for _, bad := range rules {
				if target == bad || strings.HasPrefix(target, bad+"/") {
					t.Errorf("%s imports %s: package %s must not depend on %s", strings.TrimPrefix(path, root+string(os.PathSeparator)), p, rel, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files; is the walk rooted right?", checked)
	}
}
