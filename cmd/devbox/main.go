// Command devbox generates and runs a sandboxed dev container for an AI coding
// agent. All logic lives in the app package and below; this is the only place
// that exits.
package main

import (
	"os"

	"github.com/devbox-sandbox/devbox/cmd/devbox/app"
)

func main() {
	os.Exit(app.Main(app.StandardStreams(), os.Args))
}
