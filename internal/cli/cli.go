// Package cli is what the project's flag-only commands (hpc-mirror,
// hpc-publish) share around their own work: the command line is parsed into
// their flags, positional arguments are refused, and an error ends the process
// as "<command>: <error>" on stderr with exit status 1.
package cli

import (
	"flag"
	"fmt"
	"os"
)

// Main parses os.Args into fs and calls run. An error from either, including
// flag.ErrHelp for -h (fs, if it continues on error, has printed the usage
// already), is printed to stderr after fs's name and exits with status 1.
func Main(fs *flag.FlagSet, run func() error) {
	if err := parseAndRun(fs, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, fs.Name()+":", err)
		os.Exit(1)
	}
}

func parseAndRun(fs *flag.FlagSet, args []string, run func() error) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return run()
}
