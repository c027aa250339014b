package generator

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/templates"
)

// TestServiceFiles checks the generated files that lock the services down:
// the rules the integration test (TestIntegrationServiceRoles) exercises on
// Postgres, Redis and MySQL (MariaDB standing in), and the only check
// MongoDB gets here.
func TestServiceFiles(t *testing.T) {
	cases := []struct {
		file    string
		want    []string       // lines or fragments that must be present
		refuse  *regexp.Regexp // must not match anywhere
		ordered []string       // these lines must come in this order
	}{
		{
			file: "postgres-hba.conf",
			want: []string{generatedMarker},
			// No trust anywhere, and the superuser's reject line comes
			// before every line that could let it in.
			refuse:  regexp.MustCompile(`(?m)^[^#]*\btrust\b`),
			ordered: []string{"host all postgres all reject", "host all all all scram-sha-256"},
		},
		{
			file: "postgres-init.sql",
			want: []string{
				generatedMarker, "NOSUPERUSER", "NOCREATEROLE", "NOREPLICATION",
				"REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
			},
			refuse: regexp.MustCompile(`(?i)^[^-]*(superuser[^;]*\bapp\b|grant\s+pg_|language\s+\w+u\b)`),
		},
		{
			file: "redis.conf",
			want: []string{
				generatedMarker,
				"user default off resetpass resetkeys resetchannels -@all",
				"user healthcheck on >healthcheck -@all +ping",
				"protected-mode yes",
			},
			// What app loses with @admin, @dangerous and @scripting must
			// not come back one by one.
			refuse: regexp.MustCompile(`(?mi)^user app .*\+(@all\s*$|@admin|@dangerous|@scripting|config|replicaof|slaveof|migrate|module|debug|eval|evalsha|script|function|fcall|acl|restore|shutdown|monitor|sync|psync)\b`),
		},
		{
			file:   "mongodb-init.js",
			want:   []string{generatedMarker, `role: "readWrite", db: "app"`, `clientSource: ["127.0.0.1", "::1"]`},
			refuse: regexp.MustCompile(`role: "(root|dbOwner|userAdmin\w*|clusterAdmin|readWriteAnyDatabase)"`),
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := templates.Static(c.file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s lacks %q", c.file, w)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if c.refuse.MatchString(line) {
					t.Errorf("%s: %q", c.file, line)
				}
			}
			var lines []string
			for _, line := range strings.Split(text, "\n") {
				lines = append(lines, strings.Join(strings.Fields(line), " "))
			}
			last := -1
			for _, o := range c.ordered {
				i := slices.Index(lines, o)
				if i <= last {
					t.Errorf("%s: %q missing or out of order", c.file, o)
				}
				last = i
			}
		})
	}
	app := regexp.MustCompile(`(?m)^user app on >app ~\* &\* \+@all -@admin -@dangerous -@scripting( \+\w+)*$`)
	if data, _ := templates.Static("redis.conf"); !app.Match(data) {
		t.Error("redis.conf: app's line does not start from +@all -@admin -@dangerous -@scripting")
	}
}

// TestServiceCatalogLockdown checks each service's command and environment
// for the options that lock it down.
func TestServiceCatalogLockdown(t *testing.T) {
	cases := []struct {
		name    string
		command []string
		env     map[string]string
	}{
		{name: "postgres", command: []string{"postgres", "-c", "hba_file=" + postgresHBA}},
		{name: "redis", command: []string{"redis-server", redisConfig}},
		{name: "mysql", command: []string{"mysqld", "--local-infile=0"}, env: map[string]string{"MYSQL_ROOT_HOST": "localhost"}},
		{name: "mongodb", command: []string{"mongod", "--auth", "--noscripting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, err := findService(c.name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(svc.Command, c.command) {
				t.Errorf("command %q, want %q", svc.Command, c.command)
			}
			for k, v := range c.env {
				if svc.Environment[k] != v {
					t.Errorf("%s = %q, want %q", k, svc.Environment[k], v)
				}
			}
			for _, f := range svc.Files {
				if strings.Contains(strings.Join(svc.Command, " "), f.Target) || strings.HasPrefix(f.Target, "/docker-entrypoint-initdb.d/") {
					continue
				}
				t.Errorf("%s is mounted at %s, which neither the command nor the image's init reads", f.Name, f.Target)
			}
		})
	}
}
