package inet

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// TestAllowlistIsValid checks that the entries the tests write into every
// firewall.jsonc form a config init-firewall accepts.
func TestAllowlistIsValid(t *testing.T) {
	data, err := json.Marshal(Allowlist())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := allowlist.ParseConfig("firewall.jsonc", data); err != nil {
		t.Fatalf("the stand-in allowlist is refused: %v", err)
	}
}

// fakeRoutes answers `ip -json -4|-6 route show table all` with canned
// routes.
type fakeRoutes struct{ v4, v6 string }

func (f fakeRoutes) Run(_ context.Context, c runner.Cmd) (runner.Result, error) {
	if strings.Contains(strings.Join(c.Args, " "), "-6") {
		return runner.Result{Stdout: []byte(f.v6)}, nil
	}
	return runner.Result{Stdout: []byte(f.v4)}, nil
}

func TestCheckFreeRanges(t *testing.T) {
	const uplink4 = `{"dst":"default","dev":"eth0"},{"dst":"192.0.2.0/24","dev":"eth0"},{"dst":"172.17.0.0/16","dev":"docker0"}`
	const uplink6 = `{"dst":"fd00::/64","dev":"eth0"},{"dst":"fe80::/64","dev":"eth0"},{"dst":"ff00::/8","dev":"eth0"},{"dst":"default","dev":"eth0"}`
	tests := []struct {
		name    string
		v4, v6  string
		wantErr string
	}{
		{name: "uplink only", v4: "[" + uplink4 + "]", v6: "[" + uplink6 + "]"},
		{name: "registry proxy outside the /28", v4: "[" + uplink4 + `,{"dst":"203.0.113.80","dev":"eth0"}]`, v6: "[" + uplink6 + "]"},
		{name: "someone else's 198.51.100.0/25", v4: "[" + uplink4 + `,{"dst":"198.51.100.0/25","dev":"eth9"}]`, v6: "[" + uplink6 + "]", wantErr: "198.51.100.0/25"},
		{name: "a wider route over 203.0.113.0/28", v4: "[" + uplink4 + `,{"dst":"203.0.0.0/16","dev":"eth9"}]`, v6: "[" + uplink6 + "]", wantErr: "203.0.0.0/16"},
		{name: "an IPv6 route inside 2001:db8:100::/48", v4: "[" + uplink4 + "]", v6: "[" + uplink6 + `,{"dst":"2001:db8:100:5::/64","dev":"br-x"}]`, wantErr: "2001:db8:100:5::/64"},
		{name: "docker0's 2001:db8:7::/64", v4: "[" + uplink4 + "]", v6: "[" + uplink6 + `,{"dst":"2001:db8:7::/64","dev":"docker0"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkFreeRanges(context.Background(), fakeRoutes{tt.v4, tt.v6})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
