package ehpcsim

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func wantDate(t *testing.T, resp *http.Response, want time.Time) {
	t.Helper()
	if got := resp.Header.Get("Date"); got != want.UTC().Format(http.TimeFormat) {
		t.Fatalf("Date %q, want %s", got, want.UTC().Format(http.TimeFormat))
	}
}

// Every answer, including errors, fault pages and truncated ones, carries the
// simulator's clock, never the real time net/http would fill in.
func TestDateHeaderIsTheSimulatorClock(t *testing.T) {
	e := newEnv(t, Options{})
	e.clock.Advance(-400 * 24 * time.Hour) // far from the real time, so net/http's Date cannot pass
	now := e.clock.Now()
	resp, _, err := e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDate(t, resp, now)

	resp, b, err := e.c.send("GET", pathOperation, "zone=jn1a", nil) // unsigned: 1200
	if err != nil || retCodeOf(b) != 1200 {
		t.Fatal(err, string(b))
	}
	wantDate(t, resp, now)

	e.sim.InjectFault(pathOperation, Fault{HTTPStatus: 502})
	resp, _, err = e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
	if err != nil || resp.StatusCode != 502 {
		t.Fatal(err, resp)
	}
	wantDate(t, resp, now)

	e.sim.InjectFault(pathOperation, Fault{Truncate: true})
	resp, _, err = e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
	if err == nil || resp == nil {
		t.Fatal("not truncated", err)
	}
	wantDate(t, resp, now)

	resp, _, err = e.c.send("GET", "/api/nope", "", nil) // 404
	if err != nil || resp.StatusCode != 404 {
		t.Fatal(err, resp)
	}
	wantDate(t, resp, now)
}

// A server 30 s ahead still accepts a correct client's timestamp, and shows
// its own clock in Date, create_time and status_time.
func TestClockOffsetSmall(t *testing.T) {
	e := newEnv(t, Options{ClockOffset: 30 * time.Second})
	server := t0.Add(30 * time.Second)
	if !e.sim.Now().Equal(server) {
		t.Fatalf("Now() = %s", e.sim.Now())
	}
	body := restartBody(DemoClusterID, DemoZone, "cln-cmp00001")
	resp, b, err := e.c.send("POST", pathRestart, e.c.rawQuery("POST", pathRestart, nil, body), body)
	if err != nil || retCodeOf(b) != 0 {
		t.Fatal(err, string(b))
	}
	wantDate(t, resp, server)
	j := e.sim.Jobs()[0]
	if !j.Created.Equal(server) {
		t.Fatalf("Created %s", j.Created)
	}
	op := jobByID(t, e, j.ID)
	if op["create_time"] != "2025-01-02T03:05:00Z" || op["status_time"] != "2025-01-02T03:05:00Z" {
		t.Fatalf("%v", op)
	}
	if log := e.sim.RequestLog(); !log[0].Time.Equal(server) {
		t.Fatalf("request time %s", log[0].Time)
	}
}

// More than 60 s either way, and a correct client is refused with 1300, as a
// real server with a wrong clock would refuse it.
func TestClockOffsetLarge(t *testing.T) {
	for _, off := range []time.Duration{61 * time.Second, -61 * time.Second, 10 * time.Minute} {
		e := newEnv(t, Options{ClockOffset: off})
		resp, b, err := e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
		if err != nil || retCodeOf(b) != 1300 {
			t.Fatalf("offset %s: %v %s", off, err, b)
		}
		wantDate(t, resp, t0.Add(off))
		// A client that corrected its clock from Date is accepted.
		e.c.clock = e.sim.Now
		wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}), 0)
	}
}
