package app_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/imgbb"
	"microtask/internal/platform/config"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestServerOptionsCarryEveryService(t *testing.T) {
	e := apptest.New(t)
	o := e.ServerOptions(config.Config{CORSOrigins: []string{"http://localhost:5173"}, AuthRateLimitPerMin: 7})
	v := reflect.ValueOf(o)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.Pointer, reflect.Interface:
			if f.IsNil() && name != "Metrics" { // apptest measures nothing
				t.Errorf("Options.%s is nil", name)
			}
		}
	}
	if o.AuthRateLimitPerMin != 7 || len(o.CORSOrigins) != 1 {
		t.Errorf("web settings = %d, %q; want those of the config", o.AuthRateLimitPerMin, o.CORSOrigins)
	}
}

func TestServerOptionsServeNoDirectoryForImgBB(t *testing.T) {
	e := apptest.New(t, func(c *app.Config) { c.ImageHost = imgbb.New("http://imgbb.invalid", "key", time.Second) })
	if o := e.ServerOptions(config.Config{}); o.LocalUploads != nil {
		t.Errorf("LocalUploads = %v with imgBB keeping the images, want nil", o.LocalUploads)
	}
}

// TestJobs runs a round of every shared job on a fresh database, as serve
// runs the first as it starts.
func TestJobs(t *testing.T) {
	cfg := config.Config{RecoveryInterval: 3 * time.Second, JobsInterval: 7 * time.Second}
	for _, soleWriter := range []bool{true, false} {
		e := apptest.New(t, func(c *app.Config) { c.SoleWriter = soleWriter })
		jobs := e.Jobs(cfg)
		seen := map[string]app.Job{}
		for _, j := range jobs {
			if _, dup := seen[j.Name]; dup || j.Name == "" {
				t.Errorf("job name %q empty or twice", j.Name)
			}
			seen[j.Name] = j
			if (j.Round == nil) == (j.Loop == nil) || j.Interval <= 0 || (j.Round != nil && j.Did == "") {
				t.Errorf("job %q: want a Round with what it did or a Loop, and an interval", j.Name)
			}
			if j.First != nil {
				j.First(context.Background())
			}
			if j.Round != nil {
				if n, err := j.Round(context.Background()); err != nil || n != 0 {
					t.Errorf("job %q: round = %d, %v; want 0, nil on an empty database", j.Name, n, err)
				}
			}
		}
		if got := seen["recover-operations"].Interval; got != cfg.RecoveryInterval {
			t.Errorf("recovery interval = %v, want LEDGER_RECOVERY_INTERVAL's %v", got, cfg.RecoveryInterval)
		}
		if got := seen["auto-approve"].Interval; got != cfg.JobsInterval {
			t.Errorf("auto-approval interval = %v, want JOBS_INTERVAL's %v", got, cfg.JobsInterval)
		}
		// Only where other processes write too: their notifications and
		// revoked tokens.
		_, tails := seen["tail-notifications"]
		_, watches := seen["watch-token-changes"]
		if tails == soleWriter || watches == soleWriter {
			t.Errorf("sole writer %v: tail-notifications %v, watch-token-changes %v", soleWriter, tails, watches)
		}
	}
}
