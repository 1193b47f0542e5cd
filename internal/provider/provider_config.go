package provider

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/qcconfig"
)

// Configure resolves every setting once: the provider block wins over the
// environment, which wins over the QingCloud config file (read only when a value
// is still missing). It then builds the instance's client, rate limiter and job
// poller (newProviderData) for every resource, data source and action.
func (p *HPCProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg HPCProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || !refuseUnknown(cfg, &resp.Diagnostics) {
		return
	}
	s, ok := p.resolve(cfg, &resp.Diagnostics)
	if !ok {
		return
	}
	data, ok := p.newProviderData(ctx, s, cfg, req.TerraformVersion, &resp.Diagnostics)
	if !ok {
		return
	}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.ActionData = data
}

// refuseUnknown reports an error for every setting only known after apply: it
// cannot configure a client during plan. This is the framework's usual advice.
func refuseUnknown(cfg HPCProviderModel, diags *diag.Diagnostics) bool {
	for _, a := range []struct {
		name  string
		value types.String
	}{{"endpoint", cfg.Endpoint}, {"access_key", cfg.AccessKey}, {"secret_key", cfg.SecretKey}, {"zone", cfg.Zone}, {"config_file", cfg.ConfigFile}} {
		if a.value.IsUnknown() {
			diags.AddAttributeError(path.Root(a.name), "Unknown EHPC Provider "+a.name,
				fmt.Sprintf("The provider cannot create the EHPC API client because %s is not known until apply. "+
					"Either target apply the source of the value first, set the value statically in the configuration, or use the %s environment variable.", a.name, envFor(a.name)))
		}
	}
	return !diags.HasError()
}

// settings are the provider's settings once resolved from every source.
type settings struct {
	endpoint, accessKey, secretKey, zone string
	file                                 configFileResult
}

// resolve takes each setting from the provider block, else the environment, else
// the QingCloud config file, and checks the endpoint wherever it came from.
func (p *HPCProvider) resolve(cfg HPCProviderModel, diags *diag.Diagnostics) (settings, bool) {
	pick := func(v types.String, env string) string {
		if !v.IsNull() {
			return strings.TrimSpace(v.ValueString())
		}
		return strings.TrimSpace(p.opts.Getenv(env))
	}
	s := settings{
		endpoint:  pick(cfg.Endpoint, envEndpoint),
		accessKey: pick(cfg.AccessKey, envAccessKey),
		secretKey: pick(cfg.SecretKey, envSecretKey),
		zone:      pick(cfg.Zone, envZone),
	}

	// The QingCloud config file is the last fallback, read only when a value is
	// still missing, so a configuration that sets everything never touches it.
	if s.accessKey == "" || s.secretKey == "" || s.zone == "" {
		var ok bool
		s.file, ok = p.readConfigFile(cfg.ConfigFile, diags)
		if !ok {
			return s, false
		}
		s.accessKey = cmp.Or(s.accessKey, s.file.values.AccessKeyID)
		s.secretKey = cmp.Or(s.secretKey, s.file.values.SecretAccessKey)
		s.zone = cmp.Or(s.zone, s.file.values.Zone)
	}

	s.endpoint = cmp.Or(s.endpoint, ehpc.DefaultEndpoint)
	if err := checkEndpoint(s.endpoint); err != nil {
		// Reached when the value came from the environment; a configured value was
		// already rejected by the attribute validator.
		diags.AddAttributeError(path.Root("endpoint"), "Invalid EHPC API Endpoint",
			"The endpoint "+err.Error()+". It came from the "+envEndpoint+" environment variable or the provider block.")
		return s, false
	}
	return s, true
}

// configFileResult is what the QingCloud config file gave.
type configFileResult struct {
	values qcconfig.Config
	path   string // the file consulted; "" when there was none to consult
	found  bool
}

// readConfigFile reads the QingCloud config file named by config_file, else by
// QINGCLOUD_CONFIG_FILE, else ~/.qingcloud/config.yaml. The default file may be
// absent; a named one must exist. Any file that exists must be readable and
// well-formed. Errors name the file, never its content.
func (p *HPCProvider) readConfigFile(attr types.String, diags *diag.Diagnostics) (configFileResult, bool) {
	home, homeErr := p.opts.HomeDir()
	if homeErr != nil {
		home = ""
	}
	var fpath, source string
	switch {
	case !attr.IsNull() && strings.TrimSpace(attr.ValueString()) != "":
		fpath, source = strings.TrimSpace(attr.ValueString()), "the provider's config_file argument"
	case strings.TrimSpace(p.opts.Getenv(envConfigFile)) != "":
		fpath, source = strings.TrimSpace(p.opts.Getenv(envConfigFile)), "the "+envConfigFile+" environment variable"
	case home != "":
		fpath = qcconfig.DefaultPath(home)
	default:
		return configFileResult{}, true // no home directory: no default file to look at
	}
	explicit := source != ""
	fpath = qcconfig.ExpandHome(fpath, home)

	values, err := qcconfig.Load(fpath)
	switch {
	case err == nil:
		return configFileResult{values: values, path: fpath, found: true}, true
	case qcconfig.IsNotExist(err) && !explicit:
		return configFileResult{path: fpath}, true
	}
	detail := err.Error() + "."
	if explicit {
		detail += " The file is named by " + source + "."
	} else {
		detail += " It is the default QingCloud config file."
	}
	detail += " It is read because access_key, secret_key or zone is set neither in the provider \"hpc\" block nor in the environment: " +
		"fix the file, name another with config_file or " + envConfigFile + ", or set those values in the provider block or the environment."
	if explicit && !attr.IsNull() {
		diags.AddAttributeError(path.Root("config_file"), "Cannot Read QingCloud Config File", detail)
	} else {
		diags.AddError("Cannot Read QingCloud Config File", detail)
	}
	return configFileResult{}, false
}
