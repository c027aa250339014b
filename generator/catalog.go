package generator

import (
	"regexp"
	"strings"
)

// agent is an AI coding agent devbox can install.
type agent struct {
	Name       string   // the --agent value
	Title      string   // for comments
	Package    string   // npm package of its CLI
	VersionArg string   // Dockerfile build argument pinning Package
	Version    string   // default of VersionArg
	ConfigDir  string   // under the user's home; kept on a named volume so a rebuild keeps the login
	Extensions []string // VS Code extensions
	Preset     string   // allowlist preset with its API and login hosts
}

// agents are the accepted --agent values besides "none".
var agents = []agent{
	{
		Name: "claude", Title: "Claude Code", Package: "@anthropic-ai/claude-code",
		VersionArg: "CLAUDE_CODE_VERSION", Version: "2.1.328", ConfigDir: ".claude",
		Extensions: []string{"anthropic.claude-code"}, Preset: "claude",
	},
	{
		Name: "codex", Title: "Codex", Package: "@openai/codex",
		VersionArg: "CODEX_VERSION", Version: "0.169.0", ConfigDir: ".codex",
		Extensions: []string{"openai.chatgpt"}, Preset: "codex",
	},
	{
		Name: "gemini", Title: "Gemini CLI", Package: "@google/gemini-cli",
		VersionArg: "GEMINI_CLI_VERSION", Version: "0.61.0", ConfigDir: ".gemini",
		Extensions: []string{"google.gemini-cli-vscode-ide-companion"}, Preset: "gemini",
	},
}

// language is a toolchain --lang can add, either from the official Dev
// Container feature (numeric versions) or from the base distribution's
// packages (LANG@system).
type language struct {
	Name    string
	Feature string // Dev Container feature for numeric versions
	// InDockerfile: numeric versions are installed by the Dockerfile
	// instead, as the official feature (OldFeature, which init --force
	// removes) adds privilege to the box.
	InDockerfile   bool
	OldFeature     string
	DefaultVersion string         // when --lang gives no version
	Versions       []string       // accepted major (or major.minor) versions
	Patch          *regexp.Regexp // what may follow an accepted version
	SystemPackages []string       // Debian packages for LANG@system
	Extensions     []string       // VS Code extensions
	Preset         string         // allowlist preset its package manager needs
}

// languages are the accepted --lang names.
var languages = []language{
	{
		Name: "node", Feature: "ghcr.io/devcontainers/features/node:1", DefaultVersion: "22",
		Versions: []string{"18", "20", "22", "24"}, Patch: regexp.MustCompile(`^(\.\d+){0,2}$`),
		SystemPackages: []string{"nodejs", "npm"}, Extensions: []string{"dbaeumer.vscode-eslint"}, Preset: "npm",
	},
	{
		Name: "python", Feature: "ghcr.io/devcontainers/features/python:1", DefaultVersion: "3.12",
		Versions: []string{"3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}, Patch: regexp.MustCompile(`^(\.\d+)?$`),
		SystemPackages: []string{"python3", "python3-venv", "python3-pip"}, Extensions: []string{"ms-python.python"}, Preset: "pypi",
	},
	{
		// The official Go feature adds seccomp=unconfined and SYS_PTRACE
		// (for delve), which `devbox up` refuses.
		Name: "go", InDockerfile: true, OldFeature: "ghcr.io/devcontainers/features/go:1", DefaultVersion: "1.26",
		Versions: []string{"1.22", "1.23", "1.24", "1.25", "1.26"}, Patch: regexp.MustCompile(`^(\.\d+)?$`),
		SystemPackages: []string{"golang-go"}, Extensions: []string{"golang.go"}, Preset: "go",
	},
}

// systemVersion selects the base distribution's packages instead of a feature.
const systemVersion = "system"

// acceptVersion reports whether v names a version of l: "system", or an
// accepted version optionally followed by more components ("22.11.0").
func (l language) acceptVersion(v string) bool {
	if v == systemVersion {
		return true
	}
	for _, known := range l.Versions {
		if rest, ok := strings.CutPrefix(v, known); ok && l.Patch.MatchString(rest) {
			return true
		}
	}
	return false
}

// versionList names the accepted versions for error messages.
func (l language) versionList() string {
	return systemVersion + ", " + strings.Join(l.Versions, ", ")
}

// service is a backing service the compose file can add beside the dev
// container. Each sits on an internal network only, so it cannot relay the
// agent's traffic out, and gives dev a role that can neither run programs
// nor make the service open connections (COPY ... TO PROGRAM, REPLICAOF),
// while its superuser cannot log in over the network at all: the agent can
// read every password in compose.yaml.
type service struct {
	Name        string
	Image       string            // default image; --service-image overrides it
	Port        int               // the TCP port dev connects to
	Command     []string          // the container's command, with the options that lock it down
	Environment map[string]string // of the service itself
	DevEnv      map[string]string // set in the dev container: how to connect, as a non-superuser
	DataDir     string            // kept on a named volume
	Healthcheck []string          // CMD-SHELL command
	Files       []serviceFile     // written to .devcontainer/ and mounted read-only
	Clients     []string          // Debian packages of its command-line client, installed in the dev image
}

// serviceFile is a static template file (templates/files/Name) that devbox
// writes to .devcontainer/Name and mounts read-only at Target in the
// service's container.
type serviceFile struct {
	Name   string
	Target string
}

// Where the services' configuration files are mounted; the commands name them.
const (
	postgresHBA = "/etc/postgresql/pg_hba.conf"
	redisConfig = "/usr/local/etc/redis/redis.conf"
)

// services are the accepted --services names.
var services = []service{
	{
		// pg_hba.conf is read from .devcontainer (hba_file) on every start,
		// so it holds for a data volume made before it too.
		Name: "postgres", Port: 5432, Image: "postgres:16",
		Command:     []string{"postgres", "-c", "hba_file=" + postgresHBA},
		Environment: map[string]string{"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "app"},
		DevEnv:      map[string]string{"DATABASE_URL": "postgres://app:app@postgres:5432/app"},
		DataDir:     "/var/lib/postgresql/data",
		Healthcheck: []string{"CMD-SHELL", "pg_isready -U postgres -d app"},
		Files: []serviceFile{
			{Name: "postgres-init.sql", Target: "/docker-entrypoint-initdb.d/10-devbox-app-role.sql"},
			{Name: "postgres-hba.conf", Target: postgresHBA},
		},
		Clients: []string{"postgresql-client"},
	},
	{
		// The users are in redis.conf: an ACL file (aclfile) cannot hold
		// comments, and every generated file says what made it.
		Name: "redis", Port: 6379, Image: "redis:7",
		Command:     []string{"redis-server", redisConfig},
		DevEnv:      map[string]string{"REDIS_URL": "redis://app:app@redis:6379/0"},
		DataDir:     "/data",
		Healthcheck: []string{"CMD-SHELL", "redis-cli --no-auth-warning --user healthcheck --pass healthcheck ping | grep -q PONG"},
		Files:       []serviceFile{{Name: "redis.conf", Target: redisConfig}},
		Clients:     []string{"redis-tools"},
	},
	{
		// The image grants MYSQL_USER all privileges on MYSQL_DATABASE
		// only: no FILE, SUPER or other global privilege.
		Name: "mysql", Port: 3306, Image: "mysql:8.4",
		Command: []string{"mysqld", "--local-infile=0"},
		Environment: map[string]string{
			"MYSQL_ROOT_PASSWORD": "root", "MYSQL_ROOT_HOST": "localhost",
			"MYSQL_DATABASE": "app", "MYSQL_USER": "app", "MYSQL_PASSWORD": "app",
		},
		DevEnv:      map[string]string{"MYSQL_URL": "mysql://app:app@mysql:3306/app"},
		DataDir:     "/var/lib/mysql",
		Healthcheck: []string{"CMD-SHELL", "mysqladmin ping -h 127.0.0.1 -u app -papp --silent"},
		Clients:     []string{"default-mysql-client"},
	},
	{
		Name: "mongodb", Port: 27017, Image: "mongo:7",
		Command:     []string{"mongod", "--auth", "--noscripting"},
		Environment: map[string]string{"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": "root", "MONGO_INITDB_DATABASE": "app"},
		DevEnv:      map[string]string{"MONGODB_URL": "mongodb://app:app@mongodb:27017/app"},
		DataDir:     "/data/db",
		Healthcheck: []string{"CMD-SHELL", "mongosh --quiet --eval 'db.adminCommand(\"ping\").ok' | grep -q 1"},
		Files:       []serviceFile{{Name: "mongodb-init.js", Target: "/docker-entrypoint-initdb.d/10-devbox-app-user.js"}},
	},
}

// names lists the Name of each item, for "accepted values" in errors.
func names[T any](items []T, name func(T) string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return strings.Join(out, ", ")
}

func findAgent(name string) (agent, error) {
	if name == "none" {
		return agent{}, nil
	}
	for _, a := range agents {
		if a.Name == name {
			return a, nil
		}
	}
	return agent{}, inputErrorf("unknown agent %q: accepted values: %s, none", name, names(agents, func(a agent) string { return a.Name }))
}

func findLanguage(name string) (language, error) {
	for _, l := range languages {
		if l.Name == name {
			return l, nil
		}
	}
	return language{}, inputErrorf("unknown language %q: accepted values: %s (as NAME@VERSION)", name, names(languages, func(l language) string { return l.Name }))
}

func findService(name string) (service, error) {
	for _, s := range services {
		if s.Name == name {
			return s, nil
		}
	}
	return service{}, inputErrorf("unknown service %q: accepted values: %s", name, names(services, func(s service) string { return s.Name }))
}
