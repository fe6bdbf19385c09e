package carbontracker

import (
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestRegionsAccumulateFromGoroutinesAndTheFileHasOneRowEach(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "force_ram_power": "10",
		"measure_power_secs": "0.02", "output_dir": dir, "experiment_name": "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 20; step++ {
		func() {
			defer tr.Region("step")()
			end := tr.Region("solver")
			time.Sleep(2 * time.Millisecond)
			if err := end(); err != nil {
				t.Fatal(err)
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if err := tr.RegionBegin("kernel"); err != nil {
					errs <- err
					return
				}
				if err := tr.RegionEnd("kernel"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	regions, err := tr.Regions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"step": 20, "solver": 20, "kernel": 8000}
	if len(regions) != 3 {
		t.Fatalf("regions: %+v", regions)
	}
	for _, r := range regions {
		if r.Calls != want[r.Name] || r.OpenCalls != 0 {
			t.Fatalf("%s: %+v", r.Name, r)
		}
		// RAM at 10 W: a region's energy is its open wall time at 10 W.
		if math.Abs(r.RAMEnergyKWh*3.6e6/10-r.WallS) > 1e-6 {
			t.Fatalf("%s: %v kWh over %v s", r.Name, r.RAMEnergyKWh, r.WallS)
		}
	}
	if !(regions[1].EnergyConsumedKWh > 0 && regions[1].EnergyConsumedKWh < regions[0].EnergyConsumedKWh) {
		t.Fatalf("solver inside step: %+v", regions)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "regions_go_*.csv"))
	if len(files) != 1 {
		t.Fatalf("region files: %v", files)
	}
	f, _ := os.Open(files[0])
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 1+3 {
		t.Fatalf("rows: %v %v", err, rows)
	}
}

func TestRegionErrorsAreSentinels(t *testing.T) {
	tr, err := New(Options{"offline": "true", "save_to_file": "false"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.RegionBegin(""); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("empty name: %v", err)
	}
	if err := tr.RegionEnd("never"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("not open: %v", err)
	}
	var ce *Error
	if err := tr.RegionEnd("never"); !errors.As(err, &ce) || ce.Message == "" {
		t.Fatalf("message: %v", err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Region("late")(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("after stop: %v", err)
	}
	tr.Close()
	if err := tr.RegionBegin("closed"); !errors.Is(err, ErrNullArgument) {
		t.Fatalf("closed: %v", err)
	}
}

// go test -bench Region -run '^$': one begin and one end per iteration, through cgo.
func BenchmarkRegionBeginEnd(b *testing.B) {
	tr, err := New(Options{"offline": "true", "save_to_file": "false", "log_level": "error"})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tr.RegionBegin("solver"); err != nil {
			b.Fatal(err)
		}
		if err := tr.RegionEnd("solver"); err != nil {
			b.Fatal(err)
		}
	}
}
