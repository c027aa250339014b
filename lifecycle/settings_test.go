package lifecycle

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBoxSettings: what features, the image's label and the configuration
// add is named; what devbox does not set itself is refused, naming the
// feature and the setting.
func TestBoxSettings(t *testing.T) {
	ws := workspaceFor("linux", "/home/u/app")
	const readConfiguration = `{
  "configuration": {
    "initializeCommand": "touch /tmp/x",
    "workspaceMount": "source=/,target=/w,type=bind",
    "capAdd": ["NET_ADMIN"],
    "securityOpt": ["no-new-privileges"],
    "mounts": ["source=/home/u/app/.git/hooks,target=/w/.git/hooks,type=bind,readonly", "source=vol,target=/v,type=volume"],
    "runArgs": ["--cpus=2", "--network", "host", "--security-opt=no-new-privileges", "-v", "/etc:/hostetc", "--pid=host", "--env-file", "/root/.aws/credentials", "--env-file=/home/u/app/.env.box"]
  },
  "featuresConfiguration": {"featureSets": [
    {"sourceInformation": {"userFeatureId": "./evil"}, "features": [{"id": "evil",
      "securityOpt": ["seccomp=unconfined"], "capAdd": ["SYS_PTRACE"], "privileged": true,
      "mounts": [{"source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "type": "bind"}]}]},
    {"sourceInformation": {"userFeatureId": "ghcr.io/x/ok:1"}, "features": [{"id": "ok",
      "mounts": [{"source": "ok-${devcontainerId}", "target": "/var/lib/x", "type": "volume"}]}]},
    {"sourceInformation": {"userFeatureId": "./thief"}, "features": [{"id": "thief",
      "mounts": ["source=other_devcontainer_devbox-claude,target=/loot,type=volume"]}]}
  ]},
  "mergedConfiguration": {
    "capAdd": ["SYS_PTRACE", "NET_ADMIN", "SYS_ADMIN"],
    "securityOpt": ["seccomp=unconfined", "no-new-privileges", "apparmor=unconfined"],
    "privileged": true
  }
}`
	var mc mergedConfig
	if err := json.Unmarshal([]byte(readConfiguration), &mc); err != nil {
		t.Fatal(err)
	}
	compose := &composeConfig{Volumes: map[string]*composeVolume{
		"cache":   {Name: "app_devcontainer_cache"},
		"loot":    {External: true, Name: "other_devcontainer_devbox-claude"},
		"rootfs":  {DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/"}},
		"project": {DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/home/u/app/data"}},
	}, Services: map[string]composeService{
		"gateway": {Image: "ghcr.io/devbox-sandbox/gateway:1", CapAdd: []string{"NET_ADMIN"}, Ports: []any{"127.0.0.1:8080:8080"}},
		"dev": {NetworkMode: "service:gateway", CapAdd: []string{"NET_ADMIN"}, Ipc: "host", Volumes: []any{
			map[string]any{"type": "bind", "source": "/home/u/app", "target": "/w"},
			map[string]any{"type": "bind", "source": "/home/u", "target": "/up"},
			"/run/user/1000/ssh-agent.sock:/ssh.sock",
			"cache:/cache",
		}},
		"db": {NetworkMode: "host", SecurityOpt: []string{"label=disable"}},
	}}
	for _, single := range []bool{true, false} {
		var got []string
		for _, s := range boxSettings(ws, &mc, compose, "app_devcontainer", single) {
			line := s.Source + ": " + s.Name + " " + s.Value
			if s.Refused != "" {
				line = "REFUSED " + line
			}
			got = append(got, line)
		}
		text := strings.Join(got, "\n")
		for _, want := range []string{
			"devcontainer.json: initializeCommand touch /tmp/x",
			"devcontainer.json: mounts source=/home/u/app/.git/hooks,target=/w/.git/hooks,type=bind,readonly",
			"devcontainer.json: mounts source=vol,target=/v,type=volume",
			"REFUSED devcontainer.json runArgs: --network host",
			"REFUSED devcontainer.json runArgs: -v /etc:/hostetc",
			"REFUSED devcontainer.json runArgs: --pid host",
			"REFUSED devcontainer.json runArgs: --env-file /root/.aws/credentials",
			"REFUSED devcontainer.json: workspaceMount source=/,target=/w,type=bind",
			`REFUSED feature "./evil": securityOpt seccomp=unconfined`,
			`REFUSED feature "./evil": capAdd SYS_PTRACE`,
			`REFUSED feature "./evil": privileged true`,
			`REFUSED feature "./evil": mounts {"source":"/var/run/docker.sock","target":"/var/run/docker.sock","type":"bind"}`,
			`feature "ghcr.io/x/ok:1": mounts {"source":"ok-${devcontainerId}","target":"/var/lib/x","type":"volume"}`,
			`REFUSED feature "./thief": mounts source=other_devcontainer_devbox-claude,target=/loot,type=volume`,
			"REFUSED the image's devcontainer.metadata label: capAdd SYS_ADMIN",
			"REFUSED the image's devcontainer.metadata label: securityOpt apparmor=unconfined",
			"compose service gateway: image ghcr.io/devbox-sandbox/gateway:1",
			"compose service gateway: cap_add NET_ADMIN",
			"compose service gateway: ports 127.0.0.1:8080:8080",
			"compose service dev: network_mode service:gateway",
			"REFUSED compose service dev: ipc host",
			`compose service dev: volumes {"source":"/home/u/app","target":"/w","type":"bind"}`,
			`REFUSED compose service dev: volumes {"source":"/home/u","target":"/up","type":"bind"}`,
			"REFUSED compose service dev: volumes /run/user/1000/ssh-agent.sock:/ssh.sock",
			"REFUSED compose service db: network_mode host",
			"REFUSED compose service db: security_opt label=disable",
			"compose volume loot: external true",
			"compose volume loot: name other_devcontainer_devbox-claude",
			`REFUSED compose volume rootfs: driver_opts {"device":"/","o":"bind","type":"none"}`,
			`compose volume project: driver_opts {"device":"/home/u/app/data","o":"bind","type":"none"}`,
		} {
			if !strings.Contains(text+"\n", want+"\n") {
				t.Errorf("single=%v: missing %q in\n%s", single, want, text)
			}
		}
		// NET_ADMIN is devbox's own only for the firewall's container.
		devNetAdmin := "compose service dev: cap_add NET_ADMIN"
		cfgNetAdmin := "devcontainer.json: capAdd NET_ADMIN"
		for _, l := range []string{devNetAdmin, cfgNetAdmin} {
			refusedLine := strings.Contains(text+"\n", "REFUSED "+l+"\n")
			if refusedLine == single {
				t.Errorf("single=%v: %q refused=%v", single, l, refusedLine)
			}
		}
		for _, unwanted := range []string{"--cpus", ".env.box", "no-new-privileges", "cache:/cache", "REFUSED compose service gateway", `REFUSED feature "ghcr.io/x/ok:1"`,
			"label: capAdd SYS_PTRACE", "label: privileged", "compose volume cache", "REFUSED compose volume project"} {
			if strings.Contains(text, unwanted) {
				t.Errorf("single=%v: %q listed:\n%s", single, unwanted, text)
			}
		}
	}
}
