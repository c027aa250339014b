package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// serviceBox is the service containers of a generated workspace, started
// alone with docker-compose as their own project, and clients on the
// project's internal network: where dev reaches the services from.
type serviceBox struct {
	compose string // the generated compose.yaml
	project string
}

// TestIntegrationServiceRoles attacks the services of a workspace made by
// the generator (--services postgres,redis,mysql, with the stand-in images)
// from a client container on the box's internal network, as the agent
// could: with the role dev is given, with no password, and as the superuser
// whose password compose.yaml shows. Each denial is checked against the
// server's own error, so a denial for another reason (a missing extension, a
// command the server lacks, a missing file) does not pass. Only the services
// run: no gateway, no dev, no stand-in internet. MongoDB has no stand-in
// image and is checked by the generator's tests only.
func TestIntegrationServiceRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real Docker Engine): skipped under -short")
	}
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("integration test needs %s on PATH (-short skips it)", tool)
		}
	}
	maker := &images.Maker{Dir: filepath.Join(repoRoot(), "integration", "images"), Runner: runner.Local{}, Log: buildLog()}
	services := []string{"postgres", "redis", "mysql"}
	for _, svc := range services {
		if err := maker.Ensure(t.Context(), standIns[svc]); err != nil {
			t.Fatal(err)
		}
	}
	box := startServices(t, services...)
	for _, svc := range services {
		got := docker(t, "inspect", "--format", "{{.HostConfig.SecurityOpt}} {{.HostConfig.CapDrop}}", box.container(t, svc))
		if !strings.Contains(got, "no-new-privileges") || !strings.Contains(got, "NET_RAW") {
			t.Errorf("%s: security_opt and cap_drop %s, want no-new-privileges and NET_RAW", svc, got)
		}
	}
	t.Run("postgres", func(t *testing.T) { testPostgresRoles(t, box) })
	t.Run("redis", func(t *testing.T) { testRedisRoles(t, box) })
	t.Run("mysql", func(t *testing.T) { testMySQLRoles(t, box) })
}

// standIns are the local images that replace the services' official ones.
var standIns = map[string]string{"postgres": images.Postgres, "redis": images.Redis, "mysql": images.MySQL}

// startServices generates a workspace (the default, gateway layout) with
// the services on the stand-in images, starts only those services and waits
// until each is healthy. Everything it creates goes when t ends.
func startServices(t *testing.T, services ...string) *serviceBox {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "dbit-svc")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	var serviceImages []string
	for _, svc := range services {
		serviceImages = append(serviceImages, svc+"="+standIns[svc])
	}
	r, err := generator.Init(generator.Options{
		Workspace: ws, Agent: "none",
		Services: services, ServiceImages: serviceImages,
	})
	if err != nil {
		t.Fatal(err)
	}
	box := &serviceBox{compose: filepath.Join(r.Dir, "compose.yaml"), project: fmt.Sprintf("dbit-svc-%d", os.Getpid())}
	t.Cleanup(func() {
		if out, err := box.run(context.Background(), "down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("cleanup: docker-compose down: %v\n%s", err, out)
		}
	})
	if out, err := box.run(t.Context(), append([]string{"up", "-d"}, services...)...); err != nil {
		t.Fatalf("docker-compose up: %v\n%s", err, out)
	}
	for _, svc := range services {
		box.waitHealthy(t, svc)
	}
	return box
}

// run runs docker-compose on the generated file as the test's project.
func (b *serviceBox) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := runner.Local{}.Run(ctx, runner.Cmd{Name: "docker-compose", Args: append([]string{"-p", b.project, "-f", b.compose}, args...)})
	return combined(res), err
}

// container returns the ID of the service's container.
func (b *serviceBox) container(t *testing.T, service string) string {
	t.Helper()
	ids := strings.Fields(docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+b.project, "--filter", "label=com.docker.compose.service="+service))
	if len(ids) != 1 {
		t.Fatalf("want one %s container in project %s, got %q", service, b.project, ids)
	}
	return ids[0]
}

// waitHealthy polls the service's health until its healthcheck passes.
func (b *serviceBox) waitHealthy(t *testing.T, service string) {
	t.Helper()
	id := b.container(t, service)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for {
		status := docker(t, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", id)
		switch {
		case status == "running healthy":
			return
		case !strings.HasPrefix(status, "running"):
			t.Fatalf("%s is %s:\n%s", service, status, docker(t, "logs", "--tail", "30", id))
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s not healthy (%s):\n%s", service, status, docker(t, "logs", "--tail", "30", id))
		}
	}
}

// client starts a container from image on the project's internal network,
// with the image's client programs and nothing of the box, and returns a
// function that runs argv in it as root.
func (b *serviceBox) client(t *testing.T, image string) func(argv ...string) (string, int) {
	t.Helper()
	id := docker(t, "run", "-d", "--rm", "--label", "dbit.services-client=1", "--network", b.project+"_internal",
		"--entrypoint", "sleep", image, "infinity")
	// -v: rm -f beats --rm to it, and the image's VOLUME would stay behind.
	t.Cleanup(func() { run(context.Background(), "docker", "rm", "-f", "-v", id) }) //nolint:errcheck // gone is fine
	return func(argv ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := runner.Local{}.Run(ctx, runner.Cmd{Name: "docker", Args: append([]string{"exec", id}, argv...)})
		return combined(res), exitStatus(err)
	}
}

// outcome is how a client program must exit.
type outcome int

const (
	succeeds  outcome = iota
	fails             // psql and mysql exit non-zero on a refusal
	anyStatus         // redis-cli's status on an error reply differs between versions: the reply decides
)

// serviceAttempt is one thing a client tries, and what must come of it:
// the exit status, and output (the server's reply or error) matching want.
type serviceAttempt struct {
	name string
	argv []string
	exit outcome
	want *regexp.Regexp
}

func (a serviceAttempt) check(t *testing.T, exec func(argv ...string) (string, int)) {
	t.Helper()
	out, code := exec(a.argv...)
	t.Logf("%s: exit %d: %s", a.name, code, strings.TrimSpace(out))
	if a.exit == succeeds && code != 0 || a.exit == fails && code == 0 || !a.want.MatchString(out) {
		t.Errorf("%s: exit %d, output %q; want output matching %q", a.name, code, strings.TrimSpace(out), a.want)
	}
}

// testPostgresRoles: app (DATABASE_URL's role) works in its database but
// cannot run programs, read the server's files, use an untrusted language
// or extension, or raise itself; nobody logs in without a password, and the
// superuser not at all over the network, though it still can inside the
// container.
func testPostgresRoles(t *testing.T, b *serviceBox) {
	psql := func(user, password, sql string) []string {
		return []string{"env", "PGPASSWORD=" + password, "psql", "-w", "-h", "postgres", "-U", user, "-d", "app", "-v", "ON_ERROR_STOP=1", "-tAc", sql}
	}
	app := func(sql string) []string { return psql("app", "app", sql) }
	denied := regexp.MustCompile(`(?i)permission denied|must be superuser`)
	attempts := []serviceAttempt{
		{"app queries", app(`select current_user, rolsuper, rolcreaterole, rolreplication from pg_roles where rolname = current_user`), succeeds, regexp.MustCompile(`^app\|f\|f\|f\s*$`)},
		{"app creates a table in public", app(`create table if not exists notes (body text); insert into notes values ('hi'); select count(*) > 0 from notes`), succeeds, regexp.MustCompile(`(?m)^t\s*$`)},
		{"no password", []string{"psql", "-w", "-h", "postgres", "-U", "app", "-d", "app", "-c", "select 1"}, fails, regexp.MustCompile(`no password supplied`)},
		{"wrong password", psql("app", "wrong", "select 1"), fails, regexp.MustCompile(`password authentication failed for user "app"`)},
		{"superuser over the network", psql("postgres", "postgres", "select 1"), fails, regexp.MustCompile(`pg_hba.conf rejects connection for host "[^"]+", user "postgres"`)},
		{"superuser to another database", []string{"env", "PGPASSWORD=postgres", "psql", "-w", "-h", "postgres", "-U", "postgres", "-d", "postgres", "-c", "select 1"}, fails, regexp.MustCompile(`pg_hba.conf rejects connection .*user "postgres"`)},
		{"replication connection", []string{"env", "PGPASSWORD=app", "psql", "-w", "host=postgres user=app dbname=app replication=database", "-c", "IDENTIFY_SYSTEM"}, fails, regexp.MustCompile(`no pg_hba.conf entry for replication connection|must be superuser or replication role`)},
		{"COPY TO PROGRAM", app(`copy (select 1) to program 'id'`), fails, regexp.MustCompile(`pg_execute_server_program`)},
		{"COPY FROM PROGRAM", app(`copy notes from program 'id'`), fails, regexp.MustCompile(`pg_execute_server_program`)},
		{"COPY FROM a server file", app(`copy notes from '/etc/passwd'`), fails, regexp.MustCompile(`pg_read_server_files`)},
		{"COPY TO a server file", app(`copy notes to '/tmp/devbox-notes'`), fails, regexp.MustCompile(`pg_write_server_files`)},
		{"CREATE EXTENSION dblink", app(`create extension dblink`), fails, regexp.MustCompile(`permission denied to create extension "dblink"`)},
		{"CREATE EXTENSION postgres_fdw", app(`create extension postgres_fdw`), fails, regexp.MustCompile(`permission denied to create extension "postgres_fdw"`)},
		// plpython3u is in neither the official image nor the stand-in (a
		// missing control file would be the error); c and internal are the
		// untrusted languages every server has.
		{"function in language c", app(`create function sh(cstring) returns int language c as 'libc.so.6', 'system'`), fails, regexp.MustCompile(`permission denied for language c`)},
		{"function in language internal", app(`create function pid() returns int language internal as 'pg_backend_pid'`), fails, regexp.MustCompile(`permission denied for language internal`)},
		{"CREATE LANGUAGE", app(`create language evil handler plpgsql_call_handler`), fails, regexp.MustCompile(`must be superuser to create custom procedural language`)},
		{"lo_import", app(`select lo_import('/etc/passwd')`), fails, regexp.MustCompile(`permission denied for function lo_import`)},
		{"pg_read_file", app(`select pg_read_file('/etc/passwd')`), fails, regexp.MustCompile(`permission denied for function pg_read_file`)},
		{"ALTER SYSTEM", app(`alter system set archive_command = 'id'`), fails, denied},
		{"grant itself pg_execute_server_program", app(`grant pg_execute_server_program to app`), fails, regexp.MustCompile(`(?i)permission denied|must have admin option`)},
		{"become superuser", app(`alter role app superuser`), fails, denied},
	}
	exec := b.client(t, images.Postgres)
	for _, a := range attempts {
		a.check(t, exec)
	}
	// The superuser is still there for whoever can exec into the container.
	id := b.container(t, "postgres")
	if out, err := run(t.Context(), "docker", "exec", "-u", "postgres", id, "psql", "-U", "postgres", "-d", "app", "-tAc", "select rolsuper from pg_roles where rolname = current_user"); err != nil || strings.TrimSpace(out) != "t" {
		t.Errorf("superuser over the container's socket: %q, %v", out, err)
	}
}

// testRedisRoles: the default user is off, app (REDIS_URL's user) reads and
// writes but runs no code and makes the server neither connect anywhere nor
// change its configuration, and the healthcheck's user can only PING.
func testRedisRoles(t *testing.T, b *serviceBox) {
	as := func(user, password string, cmd ...string) []string {
		argv := []string{"redis-cli", "-h", "redis", "--no-auth-warning"}
		if user != "" {
			argv = append(argv, "--user", user, "--pass", password)
		}
		return append(argv, cmd...)
	}
	app := func(cmd ...string) []string { return as("app", "app", cmd...) }
	pong := regexp.MustCompile(`^PONG\s*$`)
	noperm := regexp.MustCompile(`NOPERM`)
	attempts := []serviceAttempt{
		{"no password", as("", "", "ping"), anyStatus, regexp.MustCompile(`NOAUTH`)},
		{"default user", as("default", "anything", "ping"), anyStatus, regexp.MustCompile(`WRONGPASS`)},
		{"default user, empty password", []string{"redis-cli", "-h", "redis", "AUTH", "default", ""}, anyStatus, regexp.MustCompile(`WRONGPASS`)},
		{"app, wrong password", as("app", "wrong", "ping"), anyStatus, regexp.MustCompile(`WRONGPASS`)},
		{"healthcheck PING", as("healthcheck", "healthcheck", "ping"), anyStatus, pong},
		{"healthcheck GET", as("healthcheck", "healthcheck", "get", "k"), anyStatus, noperm},
		{"app PING", app("ping"), anyStatus, pong},
		{"app SET", app("set", "devbox-key", "v"), anyStatus, regexp.MustCompile(`^OK\s*$`)},
		{"app GET", app("get", "devbox-key"), anyStatus, regexp.MustCompile(`^v\s*$`)},
		{"app FLUSHDB", app("flushdb"), anyStatus, regexp.MustCompile(`^OK\s*$`)},
	}
	for _, cmd := range [][]string{
		{"config", "get", "dir"},
		{"config", "set", "dir", "/tmp"},
		{"replicaof", "127.0.0.1", "1"},
		{"slaveof", "127.0.0.1", "1"},
		{"migrate", "127.0.0.1", "1", "devbox-key", "0", "1000"},
		{"eval", "return 1", "0"},
		{"evalsha", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"},
		{"script", "load", "return 1"},
		{"function", "list"},
		{"fcall", "f", "0"},
		{"acl", "setuser", "app", "+@all"},
		{"restore", "devbox-restored", "0", "x"},
		{"client", "list"},
		{"bgsave"},
		{"shutdown", "nosave"},
	} {
		attempts = append(attempts, serviceAttempt{"app " + strings.ToUpper(cmd[0]) + " " + strings.Join(cmd[1:], " "), app(cmd...), anyStatus, noperm})
	}
	// redis.conf turns DEBUG and MODULE off for everyone, and Redis checks
	// that before the user's permissions.
	for _, cmd := range [][]string{{"debug", "sleep", "0"}, {"module", "list"}, {"module", "load", "/tmp/evil.so"}} {
		attempts = append(attempts, serviceAttempt{"app " + strings.ToUpper(cmd[0]) + " " + strings.Join(cmd[1:], " "), app(cmd...), anyStatus, regexp.MustCompile(`NOPERM|(DEBUG|MODULE) command not allowed`)})
	}
	exec := b.client(t, images.Redis)
	for _, a := range attempts {
		a.check(t, exec)
	}
}

// testMySQLRoles: app (MYSQL_URL's user) works in its database but sees no
// other, reads and writes no server file, loads no client file (local_infile
// is off), loads no UDF or plugin, grants nothing, changes no global setting,
// does not shut the server down or make it replicate from anywhere; nobody
// logs in without a password, and root, whose password compose.yaml shows,
// not at all over the network, though it still can inside the container. A
// control server (the same container without --local-infile=0) shows that
// the client's LOAD DATA LOCAL is refused by the server's option alone.
func testMySQLRoles(t *testing.T, b *serviceBox) {
	control, controlID := b.startMySQLControl(t)
	mysql := func(host, user, password, db, sql string) []string {
		argv := []string{"mysql", "-h", host, "-u", user, "--local-infile=1", "-N", "-B"}
		if password != "" {
			argv = append(argv, "--password="+password)
		}
		return append(argv, "-e", sql, db)
	}
	app := func(sql string) []string { return mysql("mysql", "app", "app", "app", sql) }
	// A statement's refusal names the line it is on, a refused login none:
	// what must be refused below is the statement, after app logged in.
	denied := func(reason string) *regexp.Regexp {
		return regexp.MustCompile(`ERROR \d+ \(\w+\) at line 1: ` + reason)
	}
	noGlobal := denied(`Access denied for user 'app'@'%' \(using password: YES\)`)
	needs := func(privilege string) *regexp.Regexp {
		return denied(`Access denied; you need \(at least one of\) the [A-Z ,]*` + privilege + `[A-Z ,]* privilege\(s\)`)
	}
	refusedLogin := func(user, password string) *regexp.Regexp {
		return regexp.MustCompile(`ERROR 1045 \(28000\): Access denied for user '` + user + `'@'[0-9a-f.:]+' \(using password: ` + password + `\)`)
	}
	// secure_file_priv's directory, where FILE would let a statement read
	// and write: the only reason left for a refusal there is the privilege.
	probe := "/var/lib/mysql-files/devbox-probe"

	// Root logs in inside the container (the socket is localhost), and with
	// FILE can read what app is refused below.
	id := b.container(t, "mysql")
	rootSQL := "SELECT CURRENT_USER(); SELECT 'probe' INTO OUTFILE '" + probe + "'; SELECT LOAD_FILE('" + probe + "')"
	if out, err := run(t.Context(), "docker", "exec", id, "mysql", "-u", "root", "--password=root", "-N", "-B", "-e", rootSQL); err != nil || !regexp.MustCompile(`^root@localhost\nprobe(\\n)?\s*$`).MatchString(out) {
		t.Errorf("root over the container's socket: %q, %v", out, err)
	}

	attempts := []serviceAttempt{
		{"app queries", app(`SELECT CURRENT_USER(), DATABASE(), @@global.local_infile`), succeeds, regexp.MustCompile(`^app@%\tapp\t0\s*$`)},
		{"app's grants", app(`SHOW GRANTS`), succeeds, regexp.MustCompile("^GRANT USAGE ON \\*\\.\\* TO `app`@`%`[^\n]*\nGRANT ALL PRIVILEGES ON `app`\\.\\* TO `app`@`%`\\s*$")},
		{"app creates a table", app(`CREATE TABLE IF NOT EXISTS notes (body TEXT); INSERT INTO notes VALUES ('hi'); SELECT COUNT(*) > 0 FROM notes`), succeeds, regexp.MustCompile(`^1\s*$`)},
		{"app sees only its database", app(`SELECT schema_name FROM information_schema.schemata ORDER BY 1`), succeeds, regexp.MustCompile(`^app\ninformation_schema\s*$`)},
		{"no password", mysql("mysql", "app", "", "app", "SELECT 1"), fails, refusedLogin("app", "NO")},
		{"wrong password", mysql("mysql", "app", "wrong", "app", "SELECT 1"), fails, refusedLogin("app", "YES")},
		{"unknown user, no password", mysql("mysql", "nobody", "", "app", "SELECT 1"), fails, refusedLogin("nobody", "NO")},
		{"root over the network", mysql("mysql", "root", "root", "app", "SELECT 1"), fails, refusedLogin("root", "YES")},
		{"root over the network, no password", mysql("mysql", "root", "", "app", "SELECT 1"), fails, refusedLogin("root", "NO")},
		{"app to database mysql", mysql("mysql", "app", "app", "mysql", "SELECT 1"), fails, regexp.MustCompile(`ERROR 1044 \(42000\): Access denied for user 'app'@'%' to database 'mysql'`)},
		{"CREATE DATABASE", app(`CREATE DATABASE other`), fails, denied(`Access denied for user 'app'@'%' to database 'other'`)},
		{"read mysql.user", app(`SELECT user, host FROM mysql.user`), fails, denied("SELECT command denied to user 'app'@'[^']+' for table [`']?(mysql[`']?\\.[`']?)?user")},
		{"LOAD_FILE", app(`SELECT LOAD_FILE('/etc/passwd') IS NULL, LOAD_FILE('` + probe + `') IS NULL`), succeeds, regexp.MustCompile(`^1\t1\s*$`)},
		{"SELECT INTO OUTFILE", app(`SELECT 1 INTO OUTFILE '/var/lib/mysql-files/devbox-app-out'`), fails, needs("FILE")},
		{"SELECT INTO DUMPFILE", app(`SELECT 1 INTO DUMPFILE '/var/lib/mysql-files/devbox-app-dump'`), fails, needs("FILE")},
		{"LOAD DATA INFILE", app(`LOAD DATA INFILE '` + probe + `' INTO TABLE notes`), fails, noGlobal},
		// The message names server or client; the control below shows the
		// same client loading the same file from a server without the option.
		{"LOAD DATA LOCAL INFILE", app(`LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE notes`), fails, denied(`(The used command is not allowed|Loading local data is disabled)`)},
		{"CREATE FUNCTION SONAME", app(`CREATE FUNCTION sys_exec RETURNS INTEGER SONAME 'lib_mysqludf_sys.so'`), fails, denied("(Access denied for user 'app'@'%' to database 'mysql'|INSERT command denied to user 'app'@'[^']+' for table [`']?(mysql[`']?\\.[`']?)?func)")},
		{"INSTALL PLUGIN", app(`INSTALL PLUGIN federated SONAME 'ha_federatedx.so'`), fails, denied("(Access denied for user 'app'@'%' to database 'mysql'|INSERT command denied to user 'app'@'[^']+' for table [`']?(mysql[`']?\\.[`']?)?plugin)")},
		{"GRANT ALL ON *.*", app(`GRANT ALL ON *.* TO 'app'@'%'`), fails, noGlobal},
		{"GRANT OPTION on app", app(`GRANT SELECT ON app.* TO 'app'@'%' WITH GRANT OPTION`), fails, denied(`Access denied for user 'app'@'%' to database 'app'`)},
		{"CREATE USER", app(`CREATE USER 'evil'@'%' IDENTIFIED BY 'evil'`), fails, needs("CREATE USER")},
		{"root's password", app(`ALTER USER 'root'@'localhost' IDENTIFIED BY 'evil'`), fails, needs("CREATE USER")},
		{"SET GLOBAL local_infile", app(`SET GLOBAL local_infile = 1`), fails, needs("SUPER")},
		{"SET GLOBAL general_log_file", app(`SET GLOBAL general_log_file = '/tmp/devbox-log'`), fails, needs("SUPER")},
		{"CHANGE MASTER", app(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1'`), fails, needs("(SUPER|REPLICATION SLAVE ADMIN)")},
		{"SHUTDOWN", app(`SHUTDOWN`), fails, needs("SHUTDOWN")},
	}
	exec := b.client(t, images.MySQL)
	for _, a := range attempts {
		a.check(t, exec)
	}

	waitMySQL(t, exec, control, controlID)
	controlApp := func(sql string) []string { return mysql(control, "app", "app", "app", sql) }
	for _, a := range []serviceAttempt{
		{"control: local_infile on", controlApp(`SELECT @@global.local_infile`), succeeds, regexp.MustCompile(`^1\s*$`)},
		{"control: LOAD DATA LOCAL INFILE", controlApp(`CREATE TABLE notes (body TEXT); LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE notes; SELECT COUNT(*) FROM notes`), succeeds, regexp.MustCompile(`^1\s*$`)},
	} {
		a.check(t, exec)
	}
}

// startMySQLControl starts the mysql service's container again, alone on
// the project's internal network with its own data, but without
// --local-infile=0, and returns its host name there and its ID. It is
// removed when t ends.
func (b *serviceBox) startMySQLControl(t *testing.T) (host, id string) {
	t.Helper()
	var config struct {
		Image string
		Env   []string
		Cmd   []string
	}
	if err := json.Unmarshal([]byte(docker(t, "inspect", "--format", "{{json .Config}}", b.container(t, "mysql"))), &config); err != nil {
		t.Fatal(err)
	}
	cmd := slices.DeleteFunc(slices.Clone(config.Cmd), func(arg string) bool { return strings.HasPrefix(arg, "--local-infile") })
	if len(cmd) == len(config.Cmd) {
		t.Fatalf("mysql's command %q has no --local-infile", config.Cmd)
	}
	host = "mysql-control"
	args := []string{"run", "-d", "--label", "dbit.services-client=1", "--network", b.project + "_internal", "--network-alias", host}
	for _, e := range config.Env {
		args = append(args, "-e", e)
	}
	id = docker(t, append(append(args, config.Image), cmd...)...)
	t.Cleanup(func() { run(context.Background(), "docker", "rm", "-f", "-v", id) }) //nolint:errcheck // gone is fine
	return host, id
}

// waitMySQL polls host from the client until its server, container id,
// answers over the network (its init server listens on a socket only).
func waitMySQL(t *testing.T, exec func(argv ...string) (string, int), host, id string) {
	t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for {
		out, code := exec("mysqladmin", "-h", host, "-u", "app", "--password=app", "ping", "--silent")
		if code == 0 {
			return
		}
		if status := docker(t, "inspect", "--format", "{{.State.Status}}", id); status != "running" {
			t.Fatalf("%s is %s:\n%s", host, status, docker(t, "logs", "--tail", "30", id))
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s does not answer: %s", host, out)
		}
	}
}
