package provider

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// A log that lags longer than the exactly-once settling assumes is said
// twice, in the one sentence the client words: at WARN in the log when it is
// measured, and as one warning of the first operation to end after it, not
// of every operation of the instance (issue #31).
func TestLogLagLongerThanAssumedSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{OperationLogLag: 45 * time.Second, JobDuration: 5 * time.Second})
		net := memnet.New()
		srv := &http.Server{Handler: sim}
		go func() { _ = srv.Serve(net) }()
		defer func() {
			net.Close()
			_ = srv.Close()
		}()
		client, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey,
			HTTPClient: net.Client(), Warn: clientWarner(ehpcsim.DemoSecretKey)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		ctx := tflogtest.RootLogger(context.Background(), &buf)
		d := &providerData{client: client}
		if w := d.logLagWarning(); w != nil {
			t.Fatalf("a warning before anything was measured: %v", w)
		}

		res, err := client.RestartNodes(ctx, ehpcsim.DemoZone, ehpcsim.DemoClusterID, []string{"cln-cmp00001"})
		if err != nil {
			t.Fatal(err)
		}
		p := jobwatch.New(client, jobwatch.Options{Clock: client.Clock(), Context: ctx})
		w := p.Watch(ctx, ehpcsim.DemoZone, ehpcsim.DemoClusterID, jobwatch.Target{JobID: res.JobID, Nodes: 1})
		for c := range w.C {
			if c.Found {
				break
			}
		}
		w.Stop()
		p.Wait()

		entries, err := tflogtest.MultilineJSONDecode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		var warns []map[string]any
		for _, e := range entries {
			if e["@level"] == "warn" {
				warns = append(warns, e)
			}
		}
		if len(warns) != 1 || !strings.Contains(fmt.Sprint(warns[0]["@message"]), "before it decides that a request whose answer was lost made no job") ||
			warns[0]["assumed_log_lag"] != "6s" || warns[0]["job_id"] != res.JobID {
			t.Fatalf("want one WARN line naming the job, the measured and the assumed lag, and what is done: %v", warns)
		}
		if strings.Contains(buf.String(), ehpcsim.DemoSecretKey) {
			t.Fatal("the log holds the secret key")
		}

		first := d.logLagWarning()
		if first == nil || first.Summary() != "Operation Log Slower Than Assumed" || first.Detail() != client.LogLag().String() {
			t.Fatalf("the first operation after the measurement must warn with the client's sentence: %v", first)
		}
		if again := d.logLagWarning(); again != nil {
			t.Fatalf("warned twice in one instance: %v", again)
		}
	})
}
