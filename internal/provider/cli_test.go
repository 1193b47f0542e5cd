package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// cli drives the real Terraform CLI against this test's in-process provider, the
// way terraform-plugin-testing does (TF_REATTACH_PROVIDERS), but with the whole
// output, exit code, signals and CLI flags in the test's hands. The fault matrix,
// the cancellation test and the parallel-load test need all of those.
type cli struct {
	t   *testing.T
	dir string
	env []string
}

// providerAddress is where the CLI looks for `source = "qingcloud/hpc"`: Terraform
// on registry.terraform.io, OpenTofu on registry.opentofu.org. TF_ACC_PROVIDER_HOST
// names the host for terraform-plugin-testing already (see testacc-tofu in the
// GNUmakefile), and the reattached provider must be registered under the same one.
func providerAddress() string {
	host := os.Getenv("TF_ACC_PROVIDER_HOST")
	if host == "" {
		host = "registry.terraform.io"
	}
	return host + "/qingcloud/hpc"
}

// requiredProviders is the terraform block every cli configuration starts with.
const requiredProviders = `
terraform {
  required_providers {
    hpc = { source = "qingcloud/hpc" }
  }
}
`

func terraformPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run tests that drive the Terraform CLI")
	}
	p := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if p == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set")
	}
	return p
}

// newCLI serves e's provider in-process in debug mode and returns a working
// directory whose terraform commands attach to it.
func (e *testEnv) newCLI(t *testing.T) *cli {
	t.Helper()
	tf := terraformPath(t)
	server, err := e.factories()["hpc"]()
	if err != nil {
		t.Fatal(err)
	}
	server = holdStop(server, stopGrace) // as main.go serves it (ProtocolServer)
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go func() {
		_ = tf6server.Serve(providerAddress(), func() tfprotov6.ProviderServer { return server },
			tf6server.WithDebug(ctx, reattach, closed),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			tf6server.WithoutLogStderrOverride(),
			// Provider logs follow TF_LOG / TF_ACC_LOG_PATH as under terraform-plugin-testing,
			// instead of flooding the test output.
			tf6server.WithLoggingSink(t))
	}()
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("provider did not start in debug mode")
	}
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	info, _ := json.Marshal(map[string]any{providerAddress(): map[string]any{
		"Protocol": string(rc.Protocol), "ProtocolVersion": rc.ProtocolVersion, "Pid": rc.Pid, "Test": true,
		"Addr": map[string]string{"Network": rc.Addr.Network(), "String": rc.Addr.String()},
	}})

	dir := t.TempDir()
	rcFile := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(rcFile, []byte("disable_checkpoint = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + filepath.Dir(tf) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"TF_CLI_CONFIG_FILE=" + rcFile,
		"TF_REATTACH_PROVIDERS=" + string(info),
	}
	return &cli{t: t, dir: dir, env: env}
}

// write replaces the configuration.
func (c *cli) write(config string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(requiredProviders+config), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	return cmd
}

// run returns the combined output and exit code of one terraform command.
func (c *cli) run(args ...string) (string, int) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := c.command(append(args, "-no-color")...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
		}
		code = exitErr.ExitCode()
	}
	return out.String(), code
}

// mustSucceed fails the test unless the command exits 0.
func (c *cli) mustSucceed(args ...string) string {
	c.t.Helper()
	out, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// stateResource returns the restart resource's values (restartAddr) from `terraform show -json`, and
// whether it is tainted; nil when it is not in state.
func (c *cli) stateResource() (map[string]any, bool) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := c.command("show", "-json")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("terraform show -json: %v", err)
	}
	var st tfjson.State
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		c.t.Fatalf("decoding state: %v\n%s", err, out.String())
	}
	if st.Values == nil || st.Values.RootModule == nil {
		return nil, false
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Address == restartAddr {
			return r.AttributeValues, r.Tainted
		}
	}
	return nil, false
}

// statePrivate returns the restart resource's private state (restartAddr)
// from the state file, where Terraform keeps it beside the attributes (terraform
// show does not print it); nil when there is none.
func (c *cli) statePrivate() []byte {
	c.t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		return nil
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Private []byte `json:"private"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		c.t.Fatalf("reading the state file: %v", err)
	}
	for _, r := range st.Resources {
		if r.Type+"."+r.Name == restartAddr && len(r.Instances) == 1 {
			return r.Instances[0].Private
		}
	}
	return nil
}

// applyInterrupted runs apply and sends it Ctrl-C as soon as ready reports true,
// as a user stopping a pipeline would, and returns the whole output. Terraform
// reports an interruption with a non-zero exit, so the exit code is not checked.
func (c *cli) applyInterrupted(ready func() bool, notReady string) string {
	c.t.Helper()
	out, _ := c.interrupted(ready, notReady)
	return out
}

// interrupted is applyInterrupted with more arguments for apply (-invoke=...),
// returning the exit code too.
func (c *cli) interrupted(ready func() bool, notReady string, args ...string) (string, int) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := c.command(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			c.t.Fatalf("%s:\n%s", notReady, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		c.t.Fatal(err)
	}
	err := cmd.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		c.t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}
