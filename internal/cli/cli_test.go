package cli

import (
	"errors"
	"flag"
	"io"
	"testing"
)

func TestParseAndRun(t *testing.T) {
	newSet := func() (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs, fs.String("out", "default", "")
	}

	fs, out := newSet()
	var got string
	if err := parseAndRun(fs, []string{"-out", "x"}, func() error { got = *out; return nil }); err != nil || got != "x" {
		t.Errorf("run saw -out %q (err %v), want the parsed flag", got, err)
	}

	for _, args := range [][]string{{"extra"}, {"-out", "x", "extra"}, {"-bogus"}, {"-h"}} {
		fs, _ := newSet()
		ran := false
		if err := parseAndRun(fs, args, func() error { ran = true; return nil }); err == nil || ran {
			t.Errorf("%q: err = %v, ran = %v; want an error and no run", args, err, ran)
		}
	}

	fs, _ = newSet()
	failed := errors.New("failed")
	if err := parseAndRun(fs, nil, func() error { return failed }); !errors.Is(err, failed) {
		t.Errorf("err = %v, want run's own error", err)
	}
}
