package generator

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/internal/contract"
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
	composeFiles                 // devbox's file first; the user's files after it stay
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
		// build, image and runArgs have no meaning for compose (the schema
		// refuses runArgs there); compose.yaml builds dev and carries the
		// limits. planUpgrade has refused them unless they are devbox's,
		// and moved devbox's runArgs to the options, so removing them
		// drops nothing of the user's.
		keys = append(keys, k{"build", removeKey}, k{"image", removeKey}, k{"runArgs", removeKey},
			k{"dockerComposeFile", composeFiles}, k{"service", replaceValue},
			k{"workspaceFolder", replaceValue}, k{"shutdownAction", replaceValue}, k{"overrideCommand", replaceValue})
	} else {
		keys = append(keys, k{"dockerComposeFile", removeKey}, k{"service", removeKey},
			k{"runServices", removeKey}, k{"image", removeKey}, k{"build", replaceValue},
			k{"runArgs", ownEntries})
	}
	return append(keys,
		k{"features", ownMembers},
		k{"containerUser", replaceValue}, k{"remoteUser", replaceValue}, k{"updateRemoteUserUID", replaceValue},
		// securityOpt: devbox's no-new-privileges goes with --sudo (sudo
		// is setuid), the user's other entries stay.
		k{"capAdd", unionStrings}, k{"securityOpt", ownEntries},
		k{"postStartCommand", replaceValue}, k{"waitFor", replaceValue},
		k{"mounts", ownEntries},
		k{"hostRequirements", ownMembers},
		k{"customizations", ownMembers},
	)
}

// ownedEntry reports whether an entry of mounts or runArgs is one devbox
// makes, so a regeneration replaces it instead of duplicating it: a volume
// of devbox's, a workspace path mounted at the same place in the box (read-only,
// or a mount point of its own like .git), or a runArgs entry of one of
// init's flags.
var ownedEntry entryMatcher

type entryMatcher struct{}

var ownedEntryRE = regexp.MustCompile(`^(source=devbox-|source=\$\{localWorkspaceFolder\}/\.git,)|^no-new-privileges$|` + devboxRunArg.String())

// MatchString reports whether s is an entry devbox makes.
func (entryMatcher) MatchString(s string) bool {
	if ownedEntryRE.MatchString(s) {
		return true
	}
	rest, ok := strings.CutPrefix(s, "source=${localWorkspaceFolder}/")
	if !ok {
		return false
	}
	src, rest, _ := strings.Cut(rest, ",")
	rest, _ = strings.CutSuffix(rest, ",readonly")
	return rest == "target=${containerWorkspaceFolder}/"+src+",type=bind"
}

// parseDevcontainer parses devcontainer.json (HuJSON), reporting errors as
// file:line:col.
func parseDevcontainer(filename string, data []byte) (hujson.Value, error) {
	v, err := hujson.Parse(data)
	if err != nil {
		return v, positionError(filename, err)
	}
	if _, ok := v.Value.(*hujson.Object); !ok {
		return v, fmt.Errorf("%s:1:1: devcontainer.json must hold a JSON object", filename)
	}
	return v, nil
}

var hujsonPosition = regexp.MustCompile(`^hujson: line (\d+), column (\d+): (.*)$`)

// positionError rewrites hujson's "line L, column C" as "file:L:C", the
// form editors and terminals turn into links.
func positionError(filename string, err error) error {
	m := hujsonPosition.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	return fmt.Errorf("%s:%s:%s: %s", filename, m[1], m[2], m[3])
}

// editDevcontainer changes the keys devbox owns in existing to their values
// in fresh (a newly generated devcontainer.json) and keeps everything else:
// the user's keys, their order, their layout and their comments. The changes
// are one HuJSON patch (RFC 6902), which carries comments along with the
// values it moves. With up (planUpgrade's, or nil) the patch first
// removes what up removes, and devbox's comments that up says are stale go.
func editDevcontainer(filename string, existing, fresh []byte, compose bool, up *upgrade) ([]byte, error) {
	ev, err := parseDevcontainer(filename, existing)
	if err != nil {
		return nil, err
	}
	fv, err := hujson.Parse(fresh)
	if err != nil {
		return nil, fmt.Errorf("generated devcontainer.json: %w", err) // a bug in the template
	}
	var p patch
	if up != nil {
		for _, path := range up.remove {
			p.op("remove", path, nil)
		}
	}
	eobj, fobj := ev.Value.(*hujson.Object), fv.Value.(*hujson.Object)
	for _, k := range ownedKeys(compose) {
		p.editKey(eobj, fobj, "", k.Key, k.Rule)
	}
	if len(p.ops) == 0 {
		return existing, nil
	}
	if err := ev.Patch([]byte("[" + strings.Join(p.ops, ",\n") + "]")); err != nil {
		return nil, fmt.Errorf("edit %s: %w", filename, err)
	}
	for _, path := range p.added {
		indentAdded(&ev, path)
	}
	if up != nil {
		up.tidy(ev.Value.(*hujson.Object), fobj, p.added)
	}
	return ev.Pack(), nil
}

// patch collects JSON Patch operations, as HuJSON text so that values keep
// their comments, and the paths it adds.
type patch struct {
	ops   []string
	added []string
}

// op adds an operation. Comments go before "value", where hujson takes
// them as the comments of the inserted value.
func (p *patch) op(op, path string, value *hujson.Value) {
	s := fmt.Sprintf(`{"op": %q, "path": %q`, op, path)
	if value != nil {
		s += "," + string(value.BeforeExtra) + `"value": ` + hujson.Value{Value: value.Value}.String()
	}
	p.ops = append(p.ops, s+"}")
	if op == "add" {
		p.added = append(p.added, path)
	}
}

// memberText is a member's value with the comments written above it.
func memberText(m hujson.ObjectMember) *hujson.Value {
	return &hujson.Value{BeforeExtra: m.Name.BeforeExtra, Value: m.Value.Value}
}

// elementText is an array element with the comments written above it.
func elementText(e hujson.Value) *hujson.Value {
	return &hujson.Value{BeforeExtra: e.BeforeExtra, Value: e.Value}
}

// indentAdded puts a member or element the patch added at path on a line of
// its own, indented like its siblings, when its siblings are on lines of
// their own (hujson inserts it on the previous one). A comment that trails
// the previous sibling stays where it was.
func indentAdded(root *hujson.Value, path string) {
	cut := strings.LastIndexByte(path, '/')
	parent := root.Find(path[:cut])
	if parent == nil {
		return
	}
	depth := strings.Count(path, "/")
	var extras []*hujson.Extra // the whitespace before each sibling
	target := -1
	switch c := parent.Value.(type) {
	case *hujson.Object:
		name := strings.NewReplacer("~1", "/", "~0", "~").Replace(path[cut+1:])
		for i := range c.Members {
			extras = append(extras, &c.Members[i].Name.BeforeExtra)
			if literalString(c.Members[i].Name) == name {
				target = i
				if c.Members[i].Value.BeforeExtra == nil {
					c.Members[i].Value.BeforeExtra = hujson.Extra(" ") // "key": value
				}
			}
		}
	case *hujson.Array:
		for i := range c.Elements {
			extras = append(extras, &c.Elements[i].BeforeExtra)
		}
		target, _ = strconv.Atoi(path[cut+1:])
	}
	if target < 0 || target >= len(extras) {
		return
	}
	indent, multiline := strings.Repeat("  ", depth), false
	for i, e := range extras {
		if k := bytes.LastIndexByte(*e, '\n'); k >= 0 && i != target {
			indent, multiline = string((*e)[k+1:]), true
			break
		}
	}
	b := *extras[target]
	head, rest, hasNewline := bytes.Cut(b, []byte("\n"))
	if !multiline && !bytes.Contains(rest, []byte("//")) && !bytes.Contains(rest, []byte("/*")) {
		if len(b) == 0 && target > 0 {
			*extras[target] = hujson.Extra(" ") // an inline list stays inline: ["a", "b"]
		}
		return
	}
	if !hasNewline {
		head, rest = nil, b
	}
	out := slices.Clone(head)
	for line := range strings.SplitSeq(string(rest), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, "\n"+indent+line...)
		}
	}
	*extras[target] = append(out, "\n"+indent...)
}

// pointer escapes a key for a JSON Pointer (RFC 6901).
func pointer(prefix, key string) string {
	return prefix + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// editKey adds the operations that apply rule to key of dst (at JSON
// Pointer prefix), taking devbox's value from src.
func (p *patch) editKey(dst, src *hujson.Object, prefix, key string, rule editRule) {
	path := pointer(prefix, key)
	i, j := memberIndex(dst, key), memberIndex(src, key)
	switch {
	case rule == removeKey:
		if i >= 0 {
			p.op("remove", path, nil)
		}
		return
	case i < 0 && j >= 0:
		p.op("add", path, memberText(src.Members[j]))
		return
	case i < 0 || rule == addIfMissing:
		return
	case rule == composeFiles && j >= 0:
		p.editComposeFiles(dst.Members[i].Value, src.Members[j], path)
		return
	case j < 0:
		// devbox has no value now: drop only what devbox itself put there.
		if rule == ownEntries {
			p.editArray(dst.Members[i].Value, hujson.Value{Value: &hujson.Array{}}, path, rule)
		}
		return
	}
	have, want := dst.Members[i].Value, src.Members[j].Value
	switch rule {
	case replaceValue:
		if (hujson.Value{Value: have.Value}).String() != (hujson.Value{Value: want.Value}).String() {
			p.op("replace", path, memberText(src.Members[j]))
		}
	case unionStrings, ownEntries:
		p.editArray(have, want, path, rule)
	case ownMembers:
		hobj, ok1 := have.Value.(*hujson.Object)
		wobj, ok2 := want.Value.(*hujson.Object)
		if !ok1 || !ok2 {
			p.op("replace", path, memberText(src.Members[j]))
			return
		}
		if key == "features" {
			// A language moved to @system (or dropped) leaves its feature
			// behind unless removed; the user's own features stay.
			for _, m := range slices.Backward(hobj.Members) {
				name := literalString(m.Name)
				if ownedFeature(name) && memberIndex(wobj, name) < 0 {
					p.op("remove", pointer(path, name), nil)
				}
			}
		}
		for _, m := range wobj.Members {
			name := literalString(m.Name)
			sub := replaceValue // features' options, devbox's VS Code settings
			if key == "customizations" || strings.HasPrefix(path, "/customizations") {
				switch m.Value.Value.(type) {
				case *hujson.Object:
					sub = ownMembers // customizations.vscode(.settings): keep the user's members
				case *hujson.Array:
					sub = unionStrings // customizations.vscode.extensions: keep the user's
				}
			}
			p.editKey(hobj, wobj, path, name, sub)
		}
	}
}

// editArray makes the array at path hold the user's entries and devbox's:
// with unionStrings devbox's are added where missing; with ownEntries the
// entries devbox made before are removed first. An array left empty by
// ownEntries is removed.
func (p *patch) editArray(have, want hujson.Value, path string, rule editRule) {
	harr, ok1 := have.Value.(*hujson.Array)
	warr, ok2 := want.Value.(*hujson.Array)
	if !ok1 || !ok2 {
		p.op("replace", path, elementText(hujson.Value{Value: want.Value}))
		return
	}
	kept := harr.Elements
	if rule == ownEntries {
		var remove []int
		kept = nil
		for k, e := range harr.Elements {
			if ownedEntry.MatchString(literalString(e)) {
				remove = append(remove, k)
			} else {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 && len(warr.Elements) == 0 {
			if len(harr.Elements) > 0 {
				p.op("remove", path, nil)
			}
			return
		}
		for _, k := range slices.Backward(remove) {
			p.op("remove", path+"/"+strconv.Itoa(k), nil)
		}
	}
	n := len(kept)
	for _, e := range warr.Elements {
		if rule == unionStrings && slices.ContainsFunc(kept, func(x hujson.Value) bool { return sameLiteral(x, e) }) {
			continue
		}
		p.op("add", path+"/-", elementText(e))
		p.added[len(p.added)-1] = path + "/" + strconv.Itoa(n) // where it lands
		n++
	}
}

// editComposeFiles makes dockerComposeFile's value have list devbox's
// file (want's) and keeps the user's: the compose files of their own that
// devbox's refusals tell them to write. Devbox's goes first when missing,
// so theirs are merged over it.
func (p *patch) editComposeFiles(have hujson.Value, want hujson.ObjectMember, path string) {
	devbox := literalString(want.Value)
	switch v := have.Value.(type) {
	case *hujson.Array:
		if devbox != "" && !slices.ContainsFunc(v.Elements, func(e hujson.Value) bool { return literalString(e) == devbox }) {
			p.op("add", path+"/0", elementText(want.Value))
		}
		return
	case hujson.Literal:
		theirs := literalString(have)
		if theirs == devbox {
			return
		}
		if theirs != "" && devbox != "" {
			list := hujson.Value{Value: &hujson.Array{Elements: []hujson.Value{{Value: hujson.String(devbox)}, {BeforeExtra: hujson.Extra(" "), Value: hujson.String(theirs)}}}}
			p.op("replace", path, &list)
			return
		}
	}
	p.op("replace", path, memberText(want))
}

// ownedFeature reports whether devbox adds the feature id: its firewall
// feature or a language's official feature.
func ownedFeature(id string) bool {
	if id == contract.FirewallFeatureRef {
		return true
	}
	return slices.ContainsFunc(languages, func(l language) bool { return id != "" && (l.Feature == id || l.OldFeature == id) })
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
