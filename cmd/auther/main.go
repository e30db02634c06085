// Command auther is the Auther identity server and its administration CLI.
// It only wires the command line; the work is done in internal/app.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "auther:", err)
		os.Exit(1)
	}
}
