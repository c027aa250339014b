package generator

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"
)

// How devbox changes a key it owns in an existing devcontainer.json.
type editRule int

const (
	replaceValue editRule = iota // devbox's value wins
	addIfMissing                 // the user's value wins
	unionStrings                 // keep the user's entries, add devbox's
	ownEntries                   // drop the entries devbox makes, then add devbox's
	ownMembers                   // set devbox's members of an object, keep the others
	removeKey                    // the key contradicts devbox's settings
)

// ownedKeys are the top-level keys of devcontainer.json devbox edits, and
// how. Every other key is left as it is, comments included.
func ownedKeys(compose bool) []struct {
	Key  string
	Rule editRule
} {
	type k = struct {
		Key  string
		Rule editRule
	}
	keys := []k{{"name", addIfMissing}}
	if compose {
		keys = append(keys, k{"build", removeKey}, k{"image", removeKey},
			k{"dockerComposeFile", replaceValue}, k{"service", replaceValue},
			k{"workspaceFolder", replaceValue}, k{"shutdownAction", replaceValue})
	} else {
		keys = append(keys, k{"dockerComposeFile", removeKey}, k{"service", removeKey},
			k{"runServices", removeKey}, k{"image", removeKey}, k{"build", replaceValue})
	}
	return append(keys,
		k{"features", ownMembers},
		k{"containerUser", replaceValue}, k{"remoteUser", replaceValue}, k{"updateRemoteUserUID", replaceValue},
		k{"capAdd", unionStrings}, k{"securityOpt", unionStrings},
		k{"postStartCommand", replaceValue}, k{"waitFor", replaceValue},
		k{"mounts", ownEntries}, k{"runArgs", ownEntries},
		k{"hostRequirements", ownMembers},
		k{"customizations", ownMembers},
	)
}

// ownedEntry reports whether an entry of mounts or runArgs is one devbox
// makes, so a regeneration replaces it instead of duplicating it.
var ownedEntry = regexp.MustCompile(`^(source=devbox-|source=\$\{localWorkspaceFolder\}/(\.devcontainer|\.git/hooks|\.git/config),)|^--(sysctl|ulimit|cpus|memory)=`)

// parseDevcontainer parses devcontainer.json (HuJSON), reporting errors as
// file:line:col.
func parseDevcontainer(filename string, data []byte) (hujson.Value, error) {
	v, err := hujson.Parse(data)
	if err != nil {
		return v, fmt.Errorf("%s: %w", filename, positionError(err))
	}
	if _, ok := v.Value.(*hujson.Object); !ok {
		return v, fmt.Errorf("%s:1:1: devcontainer.json must hold a JSON object", filename)
	}
	return v, nil
}

var hujsonPosition = regexp.MustCompile(`^hujson: line (\d+), column (\d+): (.*)$`)

// positionError rewrites hujson's "line L, column C" as "L:C", the form
// editors and terminals turn into links.
func positionError(err error) error {
	m := hujsonPosition.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	return fmt.Errorf("%s:%s: %s", m[1], m[2], m[3])
}

// editDevcontainer changes the keys devbox owns in existing to their values
// in fresh (a newly generated devcontainer.json) and keeps everything else:
// the user's keys, their order and their comments.
func editDevcontainer(filename string, existing, fresh []byte, compose bool) ([]byte, error) {
	ev, err := parseDevcontainer(filename, existing)
	if err != nil {
		return nil, err
	}
	fv, err := hujson.Parse(fresh)
	if err != nil {
		return nil, fmt.Errorf("generated devcontainer.json: %w", err) // a bug in the template
	}
	eobj, fobj := ev.Value.(*hujson.Object), fv.Value.(*hujson.Object)
	for _, k := range ownedKeys(compose) {
		if err := editKey(eobj, fobj, k.Key, k.Rule); err != nil {
			return nil, fmt.Errorf("edit %s: %s: %w", filename, k.Key, err)
		}
	}
	ev.Format()
	return ev.Pack(), nil
}

// editKey applies one rule to key of dst, taking devbox's value from src.
func editKey(dst, src *hujson.Object, key string, rule editRule) error {
	i := memberIndex(dst, key)
	j := memberIndex(src, key)
	if rule == removeKey {
		if i >= 0 {
			dst.Members = slices.Delete(dst.Members, i, i+1)
		}
		return nil
	}
	if j < 0 {
		// devbox has no value: drop only what devbox itself put there.
		if rule == ownEntries && i >= 0 {
			return setElements(dst, i, ownedEntriesRemoved(dst.Members[i].Value))
		}
		return nil
	}
	if i < 0 {
		m := src.Members[j]
		m.Value = m.Value.Clone()
		dst.Members = append(dst.Members, m)
		return nil
	}
	have, want := &dst.Members[i].Value, src.Members[j].Value.Clone()
	switch rule {
	case addIfMissing:
	case replaceValue:
		have.Value = want.Value
	case unionStrings, ownEntries:
		harr, ok := have.Value.(*hujson.Array)
		warr, _ := want.Value.(*hujson.Array)
		if !ok || warr == nil {
			have.Value = want.Value
			return nil
		}
		elems := harr.Elements
		if rule == ownEntries {
			elems = ownedEntriesRemoved(*have)
		}
		for _, e := range warr.Elements {
			if rule == unionStrings && slices.ContainsFunc(elems, func(x hujson.Value) bool { return sameLiteral(x, e) }) {
				continue
			}
			elems = append(elems, e)
		}
		harr.Elements = elems
	case ownMembers:
		hobj, ok := have.Value.(*hujson.Object)
		wobj, _ := want.Value.(*hujson.Object)
		if !ok || wobj == nil {
			have.Value = want.Value
			return nil
		}
		for _, m := range wobj.Members {
			name := literalString(m.Name)
			rule := replaceValue
			if _, isObj := m.Value.Value.(*hujson.Object); isObj {
				rule = ownMembers // customizations.vscode: keep the user's settings
			} else if key == "customizations" {
				rule = unionStrings // customizations.vscode.extensions: keep the user's
			}
			if err := editKey(hobj, wobj, name, rule); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// setElements replaces the elements of the array at member i, removing the
// member when none are left.
func setElements(obj *hujson.Object, i int, elems []hujson.Value) error {
	arr, ok := obj.Members[i].Value.Value.(*hujson.Array)
	if !ok {
		return nil
	}
	if len(elems) == 0 {
		obj.Members = slices.Delete(obj.Members, i, i+1)
		return nil
	}
	arr.Elements = elems
	return nil
}

// ownedEntriesRemoved returns the elements of an array value that devbox
// did not make.
func ownedEntriesRemoved(v hujson.Value) []hujson.Value {
	arr, ok := v.Value.(*hujson.Array)
	if !ok {
		return nil
	}
	var keep []hujson.Value
	for _, e := range arr.Elements {
		if !ownedEntry.MatchString(literalString(e)) {
			keep = append(keep, e)
		}
	}
	return keep
}

func memberIndex(obj *hujson.Object, name string) int {
	return slices.IndexFunc(obj.Members, func(m hujson.ObjectMember) bool { return literalString(m.Name) == name })
}

// literalString returns the string a JSON string literal holds, or "".
func literalString(v hujson.Value) string {
	lit, ok := v.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		return ""
	}
	s, err := strconv.Unquote(string(lit))
	if err != nil {
		return strings.Trim(string(lit), `"`)
	}
	return s
}

func sameLiteral(a, b hujson.Value) bool {
	la, ok1 := a.Value.(hujson.Literal)
	lb, ok2 := b.Value.(hujson.Literal)
	return ok1 && ok2 && string(la) == string(lb)
}
