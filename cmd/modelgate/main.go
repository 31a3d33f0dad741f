// Command modelgate is the one binary: CLI, server, worker, gateway and
// model server. See the README for the commands.
package main

import (
	"os"
)

func main() {
	stop := startProfile()
	code := execute(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
