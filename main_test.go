package main

import "testing"

// The logs are turned off exactly when the CLI would not show them: neither
// TF_LOG_PROVIDER nor TF_LOG names a level (TF_LOG_PROVIDER wins when set).
func TestQuietUnlessShown(t *testing.T) {
	for _, c := range []struct {
		name  string
		env   map[string]string
		quiet bool
	}{
		{"nothing set", nil, true},
		{"TF_LOG=off", map[string]string{"TF_LOG": "off"}, true},
		{"only core logs", map[string]string{"TF_LOG_CORE": "TRACE"}, true},
		{"TF_LOG=TRACE", map[string]string{"TF_LOG": "TRACE"}, false},
		{"TF_LOG=JSON", map[string]string{"TF_LOG": "JSON"}, false},
		{"TF_LOG_PROVIDER=DEBUG", map[string]string{"TF_LOG_PROVIDER": "DEBUG"}, false},
		{"provider off, global on", map[string]string{"TF_LOG": "TRACE", "TF_LOG_PROVIDER": "OFF"}, true},
		{"provider on, global off", map[string]string{"TF_LOG": "off", "TF_LOG_PROVIDER": "info"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			set := map[string]string{}
			quietUnlessShown(func(k string) string { return c.env[k] }, func(k, v string) error { set[k] = v; return nil })
			if !c.quiet {
				if len(set) != 0 {
					t.Fatalf("logs the CLI shows were changed: %v", set)
				}
				return
			}
			for _, k := range []string{"TF_LOG_SDK", "TF_LOG_PROVIDER_HPC"} {
				if set[k] != "OFF" {
					t.Errorf("%s = %q, want OFF", k, set[k])
				}
			}
		})
	}
}
