package generator

// A preset is a named set of allowlist entries. Every host is listed with
// why the box needs it; that reason is written next to it in firewall.jsonc.
type preset struct {
	Name     string
	Why      string   // what the preset is for
	Domains  []host   // must resolve
	Optional []host   // a warning when they do not resolve
	GitHub   []string // GitHub meta keys (web, api, git); GitHub's ranges change too often to list
	Verify   string   // an URL init-firewall checks is reachable after applying
}

// host is one allowlist entry and the reason it is there. Name is written
// as allowlist.ParseNameEntry (or, for cidrs, ParseCIDREntry) takes it: a
// name without ports allows TCP 443 only, so a preset names other ports
// where its tools need them (apt over http://). Git over SSH needs none
// here: it goes to GitHub's published ranges (the github preset's "git"
// key), which keep every port.
type host struct {
	Name string
	Why  string
}

// presets is every allowlist preset, in the order they are written. The
// agents' presets hold their API and login hosts; the others hold what a
// package manager or editor needs at run time (features and apt packages are
// installed at build time, before the firewall exists).
var presets = []preset{
	{
		Name: "claude", Why: "Claude Code: the Anthropic API and the login flow",
		Domains: []host{
			{"api.anthropic.com", "Claude API: every request the agent makes"},
			{"console.anthropic.com", "Claude Code login with an Anthropic Console account"},
			{"claude.ai", "Claude Code login with a Claude subscription (OAuth)"},
		},
		Optional: []host{
			{"statsig.anthropic.com", "Claude Code feature flags and telemetry; it works without"},
			{"sentry.io", "Claude Code error reports; it works without"},
		},
		Verify: "https://api.anthropic.com",
	},
	{
		Name: "codex", Why: "OpenAI Codex CLI: the OpenAI API and the ChatGPT login",
		Domains: []host{
			{"api.openai.com", "OpenAI API: requests with an API key"},
			{"auth.openai.com", "Codex login (OAuth) and token refresh"},
			{"chatgpt.com", "Codex requests when signed in with a ChatGPT plan"},
		},
		Verify: "https://api.openai.com",
	},
	{
		Name: "gemini", Why: "Gemini CLI: the Gemini API and Google sign-in",
		Domains: []host{
			{"generativelanguage.googleapis.com", "Gemini API: requests with an API key"},
			{"cloudcode-pa.googleapis.com", "Gemini Code Assist: requests when signed in with Google"},
			{"oauth2.googleapis.com", "Google sign-in token refresh"},
			{"accounts.google.com", "Google sign-in (OAuth)"},
		},
		Optional: []host{
			{"play.googleapis.com", "Gemini CLI usage statistics; it works without"},
		},
		Verify: "https://generativelanguage.googleapis.com",
	},
	{
		Name: "vscode", Why: "VS Code Server and extensions inside the box",
		Domains: []host{
			{"update.code.visualstudio.com", "VS Code Server download when VS Code attaches"},
			{"marketplace.visualstudio.com", "extension gallery: the extensions in devcontainer.json"},
			{"vscode.blob.core.windows.net", "VS Code Server and extension downloads"},
		},
		Optional: []host{
			{"main.vscode-cdn.net", "VS Code Server CDN used by newer releases"},
			{"vscode.download.prss.microsoft.com", "VS Code Server download mirror"},
		},
	},
	{
		Name: "github", Why: "git and the GitHub API (clone, fetch, push, gh)",
		Domains: []host{
			// The meta ranges open GitHub's addresses on every port; the
			// names must be listed too, or the gateway's resolver answers
			// NXDOMAIN for them.
			{"github.com", "git over HTTPS and SSH, and the web; its addresses are in the meta ranges (every port)"},
			{"api.github.com", "the GitHub API (gh, and this preset's verify target)"},
			{"raw.githubusercontent.com", "raw files (install scripts, go get of some modules); not in GitHub's meta ranges"},
			{"objects.githubusercontent.com", "release assets and LFS objects"},
			{"codeload.github.com", "source archives (npm and go dependencies from GitHub)"},
		},
		GitHub: []string{"web", "api", "git"},
		Verify: "https://api.github.com/zen",
	},
	{
		Name: "npm", Why: "the npm registry (npm, npx, yarn, pnpm)",
		Domains: []host{
			{"registry.npmjs.org", "npm packages"},
		},
		Optional: []host{
			{"registry.yarnpkg.com", "yarn's mirror of the npm registry"},
		},
	},
	{
		Name: "pypi", Why: "the Python Package Index (pip, uv, poetry)",
		Domains: []host{
			{"pypi.org", "package index"},
			{"files.pythonhosted.org", "package downloads"},
		},
	},
	{
		Name: "go", Why: "Go modules through the default proxy and checksum database",
		Domains: []host{
			{"proxy.golang.org", "Go module proxy (GOPROXY default)"},
			{"sum.golang.org", "Go checksum database (GOSUMDB default)"},
			{"storage.googleapis.com", "module zips the proxy redirects to"},
		},
	},
	{
		Name: "crates", Why: "Rust crates and rustup",
		Domains: []host{
			{"crates.io", "crate registry API"},
			{"index.crates.io", "sparse registry index (cargo default)"},
			{"static.crates.io", "crate downloads"},
			{"static.rust-lang.org", "rustup toolchain downloads"},
		},
	},
	{
		Name: "debian", Why: "Debian packages at run time (apt needs root; the user has none, but root scripts may)",
		Domains: []host{
			{"deb.debian.org:80,443", "Debian archive; apt's sources use http:// by default"},
			{"security.debian.org:80,443", "Debian security updates; apt's sources use http:// by default"},
		},
	},
}

// noPresets is the --preset value that drops the presets devbox would add on
// its own (the agent's, vscode, github and the languages'), leaving only the
// presets and --allow entries given explicitly.
const noPresets = "none"

// defaultPresets are added to every box besides the agent's and the
// languages': VS Code needs its server and extensions, and git needs GitHub.
var defaultPresets = []string{"vscode", "github"}

func findPreset(name string) (preset, error) {
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
	}
	return preset{}, inputErrorf("unknown preset %q: accepted values: %s, %s", name,
		names(presets, func(p preset) string { return p.Name }), noPresets)
}
