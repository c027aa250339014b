package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

// TestDefaultEndpoint resolves the engine with nothing set, for each OS and
// each engine socket a Mac may have.
func TestDefaultEndpoint(t *testing.T) {
	home := "/Users/me"
	desktop := filepath.Join(home, ".docker", "run", "docker.sock")
	colima := filepath.Join(home, ".colima", "default", "docker.sock")
	orb := filepath.Join(home, ".orbstack", "run", "docker.sock")
	for _, tc := range []struct {
		name     string
		goos     string
		env      map[string]string
		files    []string // the paths that exist
		host     string
		source   string
		toldHost bool // the CLIs get DOCKER_HOST
	}{
		{"linux", "linux", nil, nil, "unix:///var/run/docker.sock", "default socket", false},
		{"linux ignores Mac sockets", "linux", nil, []string{desktop}, "unix:///var/run/docker.sock", "default socket", false},
		{"windows", "windows", nil, nil, "npipe:////./pipe/docker_engine", "default pipe", false},
		{"mac with the default socket", "darwin", nil, []string{"/var/run/docker.sock", desktop}, "unix:///var/run/docker.sock", "default socket", false},
		{"mac, Docker Desktop", "darwin", nil, []string{desktop, colima, orb}, "unix://" + desktop, "Docker Desktop socket", true},
		{"mac, Colima", "darwin", nil, []string{colima, orb}, "unix://" + colima, "Colima socket", true},
		{"mac, OrbStack", "darwin", nil, []string{orb}, "unix://" + orb, "OrbStack socket", true},
		{"mac, no engine", "darwin", nil, nil, "unix:///var/run/docker.sock", "default socket", false},
		{"DOCKER_HOST wins on a Mac", "darwin", map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, []string{desktop}, "tcp://127.0.0.1:2375", "DOCKER_HOST", false},
		{"DOCKER_HOST wins on Windows", "windows", map[string]string{"DOCKER_HOST": "npipe:////./pipe/dockerDesktopLinuxEngine"}, nil, "npipe:////./pipe/dockerDesktopLinuxEngine", "DOCKER_HOST", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": home, "USERPROFILE": home, "DOCKER_CONFIG": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			p := platform{goos: tc.goos, getenv: func(k string) string { return env[k] },
				exists: func(path string) bool { return contains(tc.files, path) }}
			ep, err := resolveEndpoint(p)
			if err != nil || ep.Host != tc.host || ep.Source != tc.source {
				t.Errorf("got %+v, %v; want %s from %s", ep, err, tc.host, tc.source)
			}
			if told := ep.cliEnv() != nil; told != tc.toldHost {
				t.Errorf("CLIs told DOCKER_HOST: %v (%q), want %v", told, ep.cliEnv(), tc.toldHost)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerConfigOnWindows reads the docker CLI's configuration where it
// keeps it on Windows: %USERPROFILE%\.docker, not $HOME.
func TestDockerConfigOnWindows(t *testing.T) {
	p := platform{goos: "windows", getenv: envMapGetter{"HOME": "/c/Users/me", "USERPROFILE": `C:\Users\me`}.get}
	if got, want := dockerConfigDir(p), filepath.Join(`C:\Users\me`, ".docker"); got != want {
		t.Errorf("docker config dir %q, want %q", got, want)
	}
}

func TestStateDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		goos string
		env  envMapGetter
		want string
	}{
		{"linux", "linux", envMapGetter{"HOME": "/home/me"}, "/home/me/.local/state/devbox"},
		{"XDG_STATE_HOME", "linux", envMapGetter{"HOME": "/home/me", "XDG_STATE_HOME": "/st"}, "/st/devbox"},
		{"mac", "darwin", envMapGetter{"HOME": "/Users/me"}, "/Users/me/Library/Application Support/devbox"},
		{"XDG_STATE_HOME on a Mac", "darwin", envMapGetter{"HOME": "/Users/me", "XDG_STATE_HOME": "/st"}, "/st/devbox"},
		// filepath.Join: the separators are the running OS's.
		{"windows", "windows", envMapGetter{"USERPROFILE": `C:\Users\me`, "LOCALAPPDATA": `C:\Users\me\AppData\Local`},
			filepath.Join(`C:\Users\me\AppData\Local`, "devbox")},
		{"windows without LOCALAPPDATA", "windows", envMapGetter{"USERPROFILE": `C:\Users\me`},
			filepath.Join(`C:\Users\me`, "AppData", "Local", "devbox")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (platform{goos: tc.goos, getenv: tc.env.get}).stateDir(); got != tc.want {
				t.Errorf("stateDir = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWorkspaceLabels computes the devcontainer.local_folder and
// devcontainer.config_file labels the Dev Containers CLI writes, from the
// absolute paths filepath.Abs returns on each OS.
func TestWorkspaceLabels(t *testing.T) {
	for _, tc := range []struct {
		goos, abs          string
		folder, configFile string
	}{
		{"linux", "/home/me/app", "/home/me/app", "/home/me/app/.devcontainer/devcontainer.json"},
		{"linux", "/home/Me/C:x", "/home/Me/C:x", "/home/Me/C:x/.devcontainer/devcontainer.json"},
		{"darwin", "/Users/Me/My App", "/Users/Me/My App", "/Users/Me/My App/.devcontainer/devcontainer.json"},
		{"windows", `C:\Users\Me\app`, `c:\Users\Me\app`, `c:\Users\Me\app\.devcontainer\devcontainer.json`},
		{"windows", `c:\Users\Me\app`, `c:\Users\Me\app`, `c:\Users\Me\app\.devcontainer\devcontainer.json`},
		{"windows", `D:\`, `d:\`, `d:\.devcontainer\devcontainer.json`},
		{"windows", `E:/src/App`, `e:\src\App`, `e:\src\App\.devcontainer\devcontainer.json`},
		{"windows", `\\server\share\app`, `\\server\share\app`, `\\server\share\app\.devcontainer\devcontainer.json`},
	} {
		t.Run(tc.goos+" "+tc.abs, func(t *testing.T) {
			ws := workspaceFor(tc.goos, tc.abs)
			if ws.Dir != tc.folder || ws.ConfigFile != tc.configFile {
				t.Errorf("labels %q, %q; want %q, %q", ws.Dir, ws.ConfigFile, tc.folder, tc.configFile)
			}
		})
	}
}

// TestFindBoxOnWindows finds a box by the labels the CLI writes, and falls
// back, as the CLI does, to labels spelled with another drive-letter case.
func TestFindBoxOnWindows(t *testing.T) {
	ws := workspaceFor("windows", `C:\Users\me\app`)
	dev := func(folder, config string) container.Summary {
		return container.Summary{ID: "dev-" + folder, State: container.StateRunning,
			Labels: map[string]string{LabelLocalFolder: folder, LabelConfigFile: config}}
	}
	for _, tc := range []struct {
		name   string
		exact  []container.Summary // what the filter on both labels matches
		all    []container.Summary // every container with a local_folder label
		wantID string              // "" means no box
	}{
		{"labels as the CLI writes them", []container.Summary{dev(ws.Dir, ws.ConfigFile)}, nil, "dev-" + ws.Dir},
		{"drive letter in upper case", nil, []container.Summary{
			dev(`D:\Users\me\app`, `D:\Users\me\app\.devcontainer\devcontainer.json`),
			dev(`C:\Users\me\app`, `C:\Users\me\app\.devcontainer\devcontainer.json`),
		}, `dev-C:\Users\me\app`},
		{"another config file", nil, []container.Summary{dev(`C:\Users\me\app`, `C:\Users\me\app\.devcontainer.json`)}, ""},
		{"no box", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &lifecycletest.Engine{ContainerListFunc: func(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
				labels := o.Filters["label"]
				switch {
				case reflect.DeepEqual(labels, map[string]bool{LabelLocalFolder + "=" + ws.Dir: true, LabelConfigFile + "=" + ws.ConfigFile: true}):
					return client.ContainerListResult{Items: tc.exact}, nil
				case reflect.DeepEqual(labels, map[string]bool{LabelLocalFolder: true}):
					return client.ContainerListResult{Items: tc.all}, nil
				}
				t.Fatalf("unexpected filter %v", o.Filters)
				return client.ContainerListResult{}, nil
			}}
			box, err := FindBox(context.Background(), eng, ws)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if box != nil {
				got = box.Dev.ID
			}
			if got != tc.wantID {
				t.Errorf("found box %q, want %q", got, tc.wantID)
			}
		})
	}
}

func TestGatewayLayout(t *testing.T) {
	gateway := "services:\n  dev:\n    network_mode: service:gateway\n    cap_drop: [NET_ADMIN, NET_RAW, MKNOD]\n  gateway:\n    healthcheck:\n      test: [CMD, /usr/local/sbin/init-firewall, status]\n"
	devcontainer := `{"dockerComposeFile": %s, "service": "dev"%s}`
	for _, tc := range []struct {
		name    string
		files   map[string]string
		list    string // dockerComposeFile, as JSON
		extra   string // more devcontainer.json keys
		wantErr string // "" for accepted
	}{
		{"gateway layout", map[string]string{"compose.yaml": gateway}, `"compose.yaml"`, "", ""},
		{"with an override", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  gateway:\n    dns: [198.51.100.53]\n"}, `["compose.yaml", "o.yaml"]`, "", ""},
		{"override moves dev out", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  dev:\n    network_mode: bridge\n"}, `["compose.yaml", "o.yaml"]`, "", "does not install the devbox firewall"},
		{"override replaces the healthcheck", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  gateway:\n    healthcheck:\n      test: [CMD, \"true\"]\n"}, `["compose.yaml", "o.yaml"]`, "", "does not install the devbox firewall"},
		{"override replaces the gateway's command", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  gateway:\n    entrypoint: [sleep, infinity]\n"}, `["compose.yaml", "o.yaml"]`, "", "entrypoint or command is set"},
		{"another healthcheck", map[string]string{"compose.yaml": strings.Replace(gateway, "status", "true", 1)}, `"compose.yaml"`, "", "does not install the devbox firewall"},
		{"dev on its own network", map[string]string{"compose.yaml": strings.Replace(gateway, "network_mode: service:gateway", "networks: [default]", 1)}, `"compose.yaml"`, "", "does not install the devbox firewall"},
		{"no compose file", nil, `null`, "", "does not install the devbox firewall"},
		{"override adds NET_ADMIN", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  dev:\n    cap_add: [net_admin]\n"}, `["compose.yaml", "o.yaml"]`, "", "cap_add gives it NET_ADMIN"},
		{"override makes dev privileged", map[string]string{"compose.yaml": gateway, "o.yaml": "services:\n  dev:\n    privileged: true\n"}, `["compose.yaml", "o.yaml"]`, "", "dev is privileged"},
		{"NET_RAW kept", map[string]string{"compose.yaml": strings.Replace(gateway, "[NET_ADMIN, NET_RAW, MKNOD]", "[MKNOD]", 1)}, `"compose.yaml"`, "", "keeps NET_RAW"},
		{"capAdd in devcontainer.json", map[string]string{"compose.yaml": gateway}, `"compose.yaml"`, `, "capAdd": ["CAP_NET_RAW"]`, "capAdd gives dev NET_RAW"},
		{"privileged in devcontainer.json", map[string]string{"compose.yaml": gateway}, `"compose.yaml"`, `, "privileged": true`, `"privileged": true`},
		{"harmless capAdd", map[string]string{"compose.yaml": gateway}, `"compose.yaml"`, `, "capAdd": ["SYS_PTRACE"]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "devcontainer.json")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(devcontainer, tc.list, tc.extra)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := checkFirewallFeature(Workspace{ConfigFile: cfg})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}
