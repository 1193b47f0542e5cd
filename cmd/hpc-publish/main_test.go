package main

import "testing"

func TestTokenVariable(t *testing.T) {
	for host, want := range map[string]string{
		"app.terraform.io":     "TF_TOKEN_app_terraform_io",
		"tfe.corp-example.com": "TF_TOKEN_tfe_corp__example_com",
		"tfe.example.com:8443": "TF_TOKEN_tfe_example_com",
		"registry.example.com": "TF_TOKEN_registry_example_com",
	} {
		if got := TokenVariable(host); got != want {
			t.Errorf("TokenVariable(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestResolveToken(t *testing.T) {
	t.Setenv("TFE_TOKEN", "")
	t.Setenv("TF_TOKEN_tfe_example_com", "from-terraform-variable")
	if got, err := resolveToken("", "tfe.example.com"); err != nil || got != "from-terraform-variable" {
		t.Errorf("resolveToken from TF_TOKEN_<host> = %q, %v", got, err)
	}
	t.Setenv("TFE_TOKEN", "from-tfe-token")
	if got, _ := resolveToken("", "tfe.example.com"); got != "from-tfe-token" {
		t.Errorf("TFE_TOKEN should win over TF_TOKEN_<host>, got %q", got)
	}
	if got, _ := resolveToken("from-flag", "tfe.example.com"); got != "from-flag" {
		t.Errorf("the flag should win, got %q", got)
	}
	t.Setenv("TFE_TOKEN", "")
	t.Setenv("TF_TOKEN_tfe_example_com", "")
	if _, err := resolveToken("", "tfe.example.com"); err == nil {
		t.Error("no token: want an error")
	}
}
