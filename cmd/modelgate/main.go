// Command modelgate is the one binary: CLI, server, worker, gateway and
// model server. See the README for the commands.
package main

import (
	"os"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
