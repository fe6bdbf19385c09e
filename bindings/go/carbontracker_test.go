package carbontracker

import (
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLifecycleAndCSV(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "project_name": "go;test",
		"measure_power_secs": "0.05", "output_dir": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	e, err := tr.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if e.DurationS < 0.1 || e.Measurements < 2 || e.CarbonIntensityGPerKWh != 56.039 {
		t.Fatalf("unexpected %+v", e)
	}
	if r := e.EmissionsKg / e.EnergyConsumedKWh; math.Abs(r-0.056039) > 1e-12 {
		t.Fatalf("ratio %v", r)
	}
	last, err := tr.Stop()
	if err != nil || last.EnergyConsumedKWh < e.EnergyConsumedKWh {
		t.Fatalf("stop: %v %+v", err, last)
	}
	f, _ := os.Open(filepath.Join(dir, "emissions.csv"))
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][1] != "go;test" {
		t.Fatalf("csv: %v %v", err, rows)
	}
}

func TestErrorsCarryStatus(t *testing.T) {
	_, err := New(Options{"projet_name": "x"})
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != ErrInvalidOption || !strings.Contains(ce.Message, "projet_name") {
		t.Fatalf("got %v", err)
	}
	tr, _ := New(Options{"offline": "true", "save_to_file": "false"})
	defer tr.Close()
	if _, err := tr.Flush(); !errors.As(err, &ce) || ce.Status != ErrInvalidState {
		t.Fatalf("flush before start: %v", err)
	}
	tr.Close()
	tr.Close()
	if err := tr.Start(); !errors.As(err, &ce) || ce.Status != ErrNullArgument {
		t.Fatalf("after close: %v", err)
	}
}

func TestIOErrorKeepsNumbers(t *testing.T) {
	tr, _ := New(Options{"offline": "true", "output_dir": filepath.Join(t.TempDir(), "missing")})
	defer tr.Close()
	tr.Start()
	e, err := tr.Stop()
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != ErrIO || e.DurationS <= 0 {
		t.Fatalf("%v %+v", err, e)
	}
}

func TestGoroutinesShareOneTracker(t *testing.T) {
	tr, err := New(Options{"offline": "true", "save_to_file": "false", "force_ram_power": "10", "measure_power_secs": "0.01"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Start()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0.0
			for i := 0; i < 200; i++ {
				e, err := tr.Flush()
				if err != nil || e.EnergyConsumedKWh < last {
					t.Errorf("flush %v, %v < %v", err, e.EnergyConsumedKWh, last)
					return
				}
				last = e.EnergyConsumedKWh
			}
		}()
	}
	wg.Wait()
	s, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	measured := s.RAMEnergyKWh * 3.6e6 / (10 * s.PUE)
	if math.Abs(measured-s.DurationS) > 1e-6 {
		t.Fatalf("measured %v s of %v s", measured, s.DurationS)
	}
}

func TestOptionsString(t *testing.T) {
	got := Options{"project_name": `a;b\c`, "pue": "1.5"}.String()
	if got != `project_name=a\;b\\c;pue=1.5` {
		t.Fatal(got)
	}
	if Version() == "" {
		t.Fatal("no version")
	}
	tr, _ := New(Options{"offline": "true", "save_to_file": "false"})
	defer tr.Close()
	js, err := tr.Describe()
	if err != nil || !strings.Contains(js, `"state":"created"`) || !strings.Contains(js, `"methods"`) {
		t.Fatalf("describe: %v %s", err, js)
	}
}
