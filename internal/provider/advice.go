package provider

import (
	"fmt"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/qcconfig"
)

// configFileAdvice describes the QingCloud config file for an error message that
// suggests setting a value there.
func (d *providerData) configFileAdvice() string {
	switch {
	case d.configFile == "":
		return "the QingCloud config file ~/" + qcconfig.DefaultRelPath + " (or the file named by config_file or " + envConfigFile + ")"
	case d.configFileFound:
		return "the QingCloud config file " + d.configFile + " (found, but without those keys)"
	default:
		return "the QingCloud config file " + d.configFile + " (it does not exist; config_file or " + envConfigFile + " can name another)"
	}
}

// missingZoneDetail is the detail of a "Missing Zone" error for subject (such as
// "this restart"): every place a zone can come from.
func (d *providerData) missingZoneDetail(subject, owner string) string {
	return fmt.Sprintf("No zone is set for %s: set zone on this %s, or zone in the provider \"hpc\" block, or the %s environment variable, or %s in %s.",
		subject, owner, envZone, qcconfig.KeyZone, d.configFileAdvice())
}

func envFor(attr string) string {
	switch attr {
	case "access_key":
		return envAccessKey
	case "secret_key":
		return envSecretKey
	case "zone":
		return envZone
	case "config_file":
		return envConfigFile
	}
	return envEndpoint
}

// fileKeyFor names the QingCloud config file's key for a provider attribute.
func fileKeyFor(attr string) string {
	switch attr {
	case "access_key":
		return qcconfig.KeyAccessKeyID
	case "secret_key":
		return qcconfig.KeySecretAccessKey
	}
	return qcconfig.KeyZone
}

// connectAdvice says what to fix when the endpoint cannot be reached at all.
func connectAdvice(err *ehpc.ConnectError) string {
	if err.Kind == "dns" {
		return "Check endpoint (or QINGCLOUD_HPC_ENDPOINT) for a typo; the default is " + ehpc.DefaultEndpoint + "."
	}
	return "Check that endpoint (or QINGCLOUD_HPC_ENDPOINT) is the API's https:// address and that this machine trusts its certificate (a corporate proxy's CA can be added to the system's trust store or SSL_CERT_FILE)."
}

// terraformAdvice is what to do about an API ret_code in Terraform's terms, the
// sentence the client's hint (ehpc.Hint, in the API's terms) leaves to its
// caller; "" when the hint says it all.
func terraformAdvice(retCode int) string {
	switch retCode {
	case ehpc.CodePermissionDenied:
		return " Wait for the running job to finish, then apply again."
	}
	return ""
}
