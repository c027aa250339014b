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
	"github.com/devbox-sandbox/devbox/templates"
)

// upgrade is what `init --force` does to an existing devcontainer.json whose
// box becomes a compose project (the gateway layout, or services): the keys
// a compose box cannot have are moved to where they belong or refused by
// name, and the single-container layout's firewall keys go. Nothing a user
// wrote is dropped silently: it is moved, kept, or refused.
type upgrade struct {
	// o is the options with the values moved out of devcontainer.json
	// (devbox's runArgs, appPort) added, so compose.yaml gets them.
	o Options
	// remove are JSON Pointers the edit removes, besides ownedKeys' edits,
	// in an order that keeps array indexes valid.
	remove []string
	// changes say what moved or went, for Result.Changes.
	changes []string
	// refused say what cannot be converted, and what to do about it.
	refused []string
	// moved is true when a setting became an option.
	moved bool
	// staleComments are devbox's comments above top-level keys in the
	// single-container layout (with and without services), by key: they
	// explain the firewall feature, and are wrong once the gateway applies
	// the firewall.
	staleComments map[string][]string
	// fromFeature is true when the file had the firewall feature: it is
	// the single-container layout's.
	fromFeature bool
	// after is the key build came after: the compose keys take build's
	// place rather than the end of the file.
	after string
}

// note tells the user which flags keep the moved settings: init writes
// compose.yaml from its flags alone, and the settings have left
// devcontainer.json, so the next --force without them would drop them.
func (u *upgrade) note() string {
	if !u.moved {
		return ""
	}
	var flags []string
	for _, f := range []struct {
		name   string
		values []string
	}{
		{"sysctl", u.o.Sysctls}, {"ulimit", u.o.Ulimits}, {"cpus", []string{u.o.CPUs}},
		{"memory", []string{u.o.Memory}}, {"publish", []string{strings.Join(splitList(u.o.Publish), ",")}},
	} {
		for _, v := range f.values {
			if v != "" {
				flags = append(flags, "--"+f.name+" "+v)
			}
		}
	}
	return "the settings moved out of devcontainer.json are init's flags now, which --force does not remember: " +
		"pass them to the next `devbox init --force` to keep them: " + strings.Join(flags, " ")
}

// ownFile is the advice for a setting a compose box takes from a compose
// file: compose merges the files of dockerComposeFile in order, and devbox
// keeps the user's files listed after compose.yaml.
const ownFile = `in a compose file of your own, listed after compose.yaml in dockerComposeFile (e.g. ["compose.yaml", "compose.override.yaml"])`

// planUpgrade reads existing (devcontainer.json, at filename) for the
// compose layout o asks for (gateway: the gateway layout; otherwise
// --single-container with services). It refuses, naming every setting at
// fault at once, what it cannot carry over; nothing has been written then.
func planUpgrade(filename string, existing []byte, o Options, gateway bool) (*upgrade, error) {
	v, err := parseDevcontainer(filename, existing)
	if err != nil {
		return nil, err
	}
	obj := v.Value.(*hujson.Object)
	u := &upgrade{o: o}
	u.runArgs(obj, o, gateway)
	u.appPort(obj, gateway)
	u.build(obj)
	if k := memberIndex(obj, "build"); k > 0 {
		u.after = literalString(obj.Members[k-1].Name)
	}
	if m, ok := member(obj, "image"); ok {
		u.refused = append(u.refused, fmt.Sprintf("image %s: compose.yaml builds dev from .devcontainer/Dockerfile; pass the image as --base-image (a Debian-based image) and remove image", compact(m)))
	}
	if m, ok := member(obj, "workspaceMount"); ok {
		u.refused = append(u.refused, fmt.Sprintf("workspaceMount %s: compose.yaml mounts the workspace; mount it differently %s and remove workspaceMount", compact(m), ownFile))
	}
	if m, ok := member(obj, "mounts"); ok {
		if arr, ok := m.Value.(*hujson.Array); ok && slices.ContainsFunc(arr.Elements, func(e hujson.Value) bool { return ownedEntry.MatchString(literalString(e)) }) {
			u.changes = append(u.changes, "moved devbox's mounts to compose.yaml: the read-only .devcontainer and .git, and the agent's and the shell history's volumes, "+
				"which are the compose project's now, so the agent's login and the history start empty (the old volumes are left as they were)")
		}
	}
	if gateway {
		u.firewallKeys(obj)
		if u.staleComments, err = singleContainerComments(); err != nil {
			return nil, err
		}
	}
	if len(u.refused) > 0 {
		return nil, inputErrorf("%s cannot become a compose box as it is, so nothing was written:\n  - %s", filename, strings.Join(u.refused, "\n  - "))
	}
	return u, nil
}

// devboxRunArg is a runArgs entry devbox writes for one of init's flags.
var devboxRunArg = regexp.MustCompile(`^--(sysctl|ulimit|cpus|memory|publish)=(.*)$`)

// publishedRunArg is the form of devbox's --publish entry.
var publishedRunArg = regexp.MustCompile(`^127\.0\.0\.1:(\d+):(\d+)$`)

// runArgs moves devbox's entries to the options of the flag that made them,
// unless the flag is given again, and refuses the user's: a compose box has
// no runArgs, and devbox cannot write an arbitrary docker run flag safely.
func (u *upgrade) runArgs(obj *hujson.Object, given Options, gateway bool) {
	v, ok := member(obj, "runArgs")
	if !ok {
		return
	}
	arr, ok := v.Value.(*hujson.Array)
	if !ok {
		u.refused = append(u.refused, fmt.Sprintf("runArgs %s is not a list: a compose box has no runArgs; remove it", compact(v)))
		return
	}
	for _, e := range arr.Elements {
		arg := literalString(e)
		m := devboxRunArg.FindStringSubmatch(arg)
		if m == nil {
			u.refused = append(u.refused, fmt.Sprintf("runArgs entry %s is not one devbox writes, and a compose box has no runArgs: set it on the dev service %s, or remove it", compact(e), ownFile))
			continue
		}
		flag, value := m[1], m[2]
		if flag == "publish" {
			p := publishedRunArg.FindStringSubmatch(value)
			if p == nil || p[1] != p[2] {
				u.refused = append(u.refused, fmt.Sprintf("runArgs entry %q: devbox publishes a port only as 127.0.0.1:PORT:PORT; pass --publish PORT instead, and remove the entry", arg))
				continue
			}
			value = p[1]
		}
		if err := u.checkFlag(flag, value, gateway); err != nil {
			u.refused = append(u.refused, fmt.Sprintf("runArgs entry %q: %v; remove the entry", arg, err))
			continue
		}
		if flagGiven(given, flag) {
			u.changes = append(u.changes, fmt.Sprintf("dropped runArgs %q: --%s given again replaces it", arg, flag))
			continue
		}
		setFlag(&u.o, flag, value)
		u.moved = true
		where := "compose.yaml"
		if flag == "publish" {
			where += " (the gateway publishes 127.0.0.1:" + value + ")"
		}
		u.changes = append(u.changes, fmt.Sprintf("moved runArgs %q to %s, as --%s %s", arg, where, flag, value))
	}
}

// checkFlag validates a value moved to flag as the flag itself is
// validated, so the layout's rules apply to it (the gateway refuses
// net.ipv4.ip_unprivileged_port_start).
func (u *upgrade) checkFlag(flag, value string, gateway bool) error {
	if flag == "publish" && !gateway {
		return fmt.Errorf("the --single-container layout with services publishes no port of the box; use the gateway layout (drop --single-container) to publish %s", value)
	}
	var o Options
	setFlag(&o, flag, value)
	return (&spec{Gateway: gateway}).resolveLimits(o)
}

// setFlag sets (cpus, memory) or adds to (sysctl, ulimit, publish) the
// option of init's flag.
func setFlag(o *Options, flag, value string) {
	switch flag {
	case "sysctl":
		o.Sysctls = append(o.Sysctls, value)
	case "ulimit":
		o.Ulimits = append(o.Ulimits, value)
	case "publish":
		o.Publish = append(o.Publish, value)
	case "cpus":
		o.CPUs = value
	case "memory":
		o.Memory = value
	}
}

// flagGiven reports whether the user passed flag to this run of init.
func flagGiven(o Options, flag string) bool {
	switch flag {
	case "sysctl":
		return len(o.Sysctls) > 0
	case "ulimit":
		return len(o.Ulimits) > 0
	case "publish":
		return len(o.Publish) > 0
	case "cpus":
		return o.CPUs != ""
	case "memory":
		return o.Memory != ""
	}
	return false
}

// appPort moves plain ports to the published ones. The user set them, so
// they are added to --publish even when it is given.
func (u *upgrade) appPort(obj *hujson.Object, gateway bool) {
	v, ok := member(obj, "appPort")
	if !ok {
		return
	}
	elems := []hujson.Value{v}
	if arr, ok := v.Value.(*hujson.Array); ok {
		elems = arr.Elements
	}
	var ports []string
	for _, e := range elems {
		port, ok := plainPort(e)
		if !ok {
			u.refused = append(u.refused, fmt.Sprintf("appPort %s: devbox publishes a port only on the host's 127.0.0.1, as the same port; pass --publish PORT for it and remove it from appPort", compact(e)))
			continue
		}
		if err := u.checkFlag("publish", port, gateway); err != nil {
			u.refused = append(u.refused, fmt.Sprintf("appPort %s: %v; remove it from appPort", compact(e), err))
			continue
		}
		ports = append(ports, port)
	}
	if len(ports) < len(elems) {
		return
	}
	u.o.Publish = append(u.o.Publish, ports...)
	u.moved = true
	u.remove = append(u.remove, "/appPort")
	u.changes = append(u.changes, fmt.Sprintf("moved appPort %s to compose.yaml, as --publish %s: the gateway publishes it on the host's 127.0.0.1 only",
		compact(v), strings.Join(ports, ",")))
}

// plainPort returns a port given as a number or a string of digits.
func plainPort(v hujson.Value) (string, bool) {
	lit, ok := v.Value.(hujson.Literal)
	if !ok {
		return "", false
	}
	s := string(lit)
	if lit.Kind() == '"' {
		s = literalString(v)
	} else if lit.Kind() != '0' {
		return "", false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return strconv.Itoa(n), true
}

// devboxBuild are the members of build devbox writes in the
// single-container layout, with their values.
var devboxBuild = map[string]string{"dockerfile": "Dockerfile", "context": "."}

// build lets devbox's build go (compose.yaml builds dev, and ownedKeys
// removes the key) and refuses anything the user added to it.
func (u *upgrade) build(obj *hujson.Object) {
	v, ok := member(obj, "build")
	if !ok {
		return
	}
	b, ok := v.Value.(*hujson.Object)
	if !ok {
		u.refused = append(u.refused, fmt.Sprintf("build %s: compose.yaml builds dev from .devcontainer/Dockerfile; remove build", compact(v)))
		return
	}
	clean := true
	for _, m := range b.Members {
		name := literalString(m.Name)
		if want, ok := devboxBuild[name]; ok && literalString(m.Value) == want {
			continue
		}
		clean = false
		u.refused = append(u.refused, fmt.Sprintf("build.%s %s: compose.yaml builds dev from .devcontainer/Dockerfile, so devcontainer.json's build no longer applies: set it under services.dev.build %s, and remove it from build",
			name, compact(m.Value), ownFile))
	}
	if clean {
		u.changes = append(u.changes, "removed build: compose.yaml builds dev from .devcontainer/Dockerfile")
	}
}

// firewallKeys removes what the single-container layout's firewall put in
// devcontainer.json (the gateway applies the firewall now) and refuses what
// would let dev reach the gateway's rules.
func (u *upgrade) firewallKeys(obj *hujson.Object) {
	hadFeature := false
	if f, ok := member(obj, "features"); ok {
		if fo, ok := f.Value.(*hujson.Object); ok && memberIndex(fo, contract.FirewallFeatureRef) >= 0 {
			hadFeature, u.fromFeature = true, true // ownedKeys removes it
			u.changes = append(u.changes, "removed the feature "+contract.FirewallFeatureRef+" from devcontainer.json: the gateway applies the firewall")
		}
	}
	if v, ok := member(obj, "containerUser"); ok && literalString(v) == "root" {
		u.remove = append(u.remove, "/containerUser")
		u.changes = append(u.changes, `removed containerUser "root": only the firewall feature's entrypoint needed it`)
	}
	if v, ok := member(obj, "privileged"); ok && compact(v) == "true" {
		u.refused = append(u.refused, `"privileged": true: dev shares the gateway's network namespace, and with every capability root in dev could change the gateway's rules; remove it`)
	}
	if v, ok := member(obj, "capAdd"); ok {
		if arr, ok := v.Value.(*hujson.Array); ok {
			var drop []int
			for k, e := range arr.Elements {
				c := literalString(e)
				switch {
				case !contract.NetworkCapability(c):
				case hadFeature && contract.CapabilityName(c) == "NET_ADMIN":
					drop = append(drop, k)
				default:
					u.refused = append(u.refused, fmt.Sprintf("capAdd %q: dev shares the gateway's network namespace, so root in dev could change the gateway's rules or forge its socket mark; remove it (the gateway alone holds NET_ADMIN)", c))
				}
			}
			if len(drop) == len(arr.Elements) {
				u.remove = append(u.remove, "/capAdd")
			} else {
				for _, k := range slices.Backward(drop) {
					u.remove = append(u.remove, "/capAdd/"+strconv.Itoa(k))
				}
			}
			if len(drop) > 0 {
				u.changes = append(u.changes, "removed NET_ADMIN from capAdd: the gateway holds it, and dev holds no network capability")
			}
		}
	}
	if v, ok := member(obj, "postStartCommand"); ok && strings.Contains(compact(v), contract.FirewallBinary) {
		if !statusCommand.MatchString(literalString(v)) {
			u.refused = append(u.refused, fmt.Sprintf("postStartCommand %s runs %s, which dev has no more (the gateway runs it, and its healthcheck gates dev's start): remove that part, keeping your own commands", compact(v), contract.FirewallBinary))
			return
		}
		u.remove = append(u.remove, "/postStartCommand")
		line := fmt.Sprintf("removed postStartCommand %s", compact(v))
		if w, ok := member(obj, "waitFor"); ok && literalString(w) == "postStartCommand" {
			u.remove = append(u.remove, "/waitFor")
			line += " and its waitFor"
		}
		u.changes = append(u.changes, line+": dev starts only once the gateway's healthcheck says the firewall is applied")
	}
}

// statusCommand is the postStartCommand the single-container layout writes
// (contract.StatusCommand, whose wait earlier versions set otherwise).
var statusCommand = regexp.MustCompile(`^` + regexp.QuoteMeta(contract.FirewallBinary) + ` status( --wait [0-9.]+[a-z]+)?$`)

// singleContainerComments are the comments the single-container layout's
// devcontainer.json has above its top-level keys, with services and
// without, by key, taken from the template rather than spelled out again.
func singleContainerComments() (map[string][]string, error) {
	comments := map[string][]string{}
	for _, compose := range []bool{false, true} {
		d := devcontainerData{box: theBox, Name: "x", Compose: compose, Features: []feature{{Ref: contract.FirewallFeatureRef, Options: map[string]string{}}}, Extensions: []string{}}
		data, err := templates.Execute("devcontainer.json.tmpl", d)
		if err != nil {
			return nil, fmt.Errorf("render the single-container devcontainer.json: %w", err) // a bug in the template
		}
		v, err := hujson.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("parse the single-container devcontainer.json: %w", err)
		}
		for _, m := range v.Value.(*hujson.Object).Members {
			if c := strings.TrimSpace(string(m.Name.BeforeExtra)); c != "" {
				key := literalString(m.Name)
				comments[key] = append(comments[key], c)
			}
		}
	}
	return comments, nil
}

// tidy finishes the edited object: devbox's stale comments give way to
// fresh's (the new file's) or go (a comment the user changed stays), a key
// of the single-container layout gets fresh's comment, an inline array
// whose first element up removed starts without a blank, features left
// empty reads {}, and the top-level keys the patch added (paths in added)
// move to where build was, in fresh's order.
func (u *upgrade) tidy(obj, fresh *hujson.Object, added []string) {
	defer u.place(obj, added)
	for i := range obj.Members {
		m := &obj.Members[i]
		key := literalString(m.Name)
		extra := string(m.Name.BeforeExtra)
		had := strings.TrimSpace(extra)
		if slices.Contains(u.staleComments[key], had) || (had == "" && u.fromFeature) {
			indent := "\n" + extra[strings.LastIndexByte(extra, '\n')+1:]
			var want string
			if j := memberIndex(fresh, key); j >= 0 {
				want = strings.TrimSpace(string(fresh.Members[j].Name.BeforeExtra))
			}
			if want != had {
				lines := strings.Split(want, "\n")
				for k := range lines {
					lines[k] = strings.TrimSpace(lines[k])
				}
				m.Name.BeforeExtra = hujson.Extra(indent)
				if want != "" {
					m.Name.BeforeExtra = hujson.Extra(indent + strings.Join(lines, indent) + indent)
				}
			}
		}
		if f, ok := m.Value.Value.(*hujson.Object); ok && key == "features" && u.fromFeature && len(f.Members) == 0 && strings.TrimSpace(string(f.AfterExtra)) == "" {
			f.AfterExtra = nil
		}
		if !slices.Contains(u.remove, pointer("", key)+"/0") {
			continue
		}
		if arr, ok := m.Value.Value.(*hujson.Array); ok && len(arr.Elements) > 0 && !bytes.ContainsAny(arr.Elements[0].BeforeExtra, "\n/") {
			arr.Elements[0].BeforeExtra = nil
		}
	}
}

// place moves the top-level members added to the end of obj after the
// member u.after, when it is still there.
func (u *upgrade) place(obj *hujson.Object, added []string) {
	at := memberIndex(obj, u.after)
	if at < 0 {
		return
	}
	var moved, rest []hujson.ObjectMember
	for _, m := range obj.Members {
		if slices.Contains(added, pointer("", literalString(m.Name))) {
			moved = append(moved, m)
		} else {
			rest = append(rest, m)
		}
	}
	if len(moved) == 0 {
		return
	}
	at = slices.IndexFunc(rest, func(m hujson.ObjectMember) bool { return literalString(m.Name) == u.after })
	obj.Members = slices.Concat(rest[:at+1], moved, rest[at+1:])
}

// member returns the value of obj's member key.
func member(obj *hujson.Object, key string) (hujson.Value, bool) {
	i := memberIndex(obj, key)
	if i < 0 {
		return hujson.Value{}, false
	}
	return obj.Members[i].Value, true
}

// compact is a value as JSON on one line, without its comments.
func compact(v hujson.Value) string {
	c := hujson.Value{Value: v.Value}.Clone()
	c.Standardize()
	c.Minimize()
	return c.String()
}
