package carbontracker

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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
	if !errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrInvalidState) {
		t.Fatalf("errors.Is: %v", err)
	}
	if !errors.As(err, &ce) || ce.Status != StatusInvalidOption || !strings.Contains(ce.Message, "projet_name") {
		t.Fatalf("got %v", err)
	}
	tr, _ := New(WithOffline(true), WithSaveToFile(false))
	defer tr.Close()
	if _, err := tr.Flush(); !errors.Is(err, ErrInvalidState) || !errors.As(err, &ce) || ce.Status != StatusInvalidState {
		t.Fatalf("flush before start: %v", err)
	}
	var closer io.Closer = tr
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := tr.Start(); !errors.Is(err, ErrNullArgument) {
		t.Fatalf("after close: %v", err)
	}
}

func TestIOErrorKeepsNumbers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vanishing")
	tr, _ := New(Options{"offline": "true", "output_dir": dir})
	defer tr.Close()
	if err := tr.Start(); err != nil { // creates the directory
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	e, err := tr.Stop()
	if !errors.Is(err, ErrIO) || e.DurationS <= 0 {
		t.Fatalf("%v %+v", err, e)
	}
}

// Mistakes caught at once, with the same status and words as in C, C++, Python and the command.
func TestMistakesAreCaughtEarly(t *testing.T) {
	var ce *Error
	_, err := New(WithCountryISOCode("FRN"))
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France)") {
		t.Fatalf("FRN: %v", err)
	}
	_, err = New(Set("projet_name", "x"))
	if !errors.As(err, &ce) || ce.Message != "options: unknown option `projet_name`; did you mean `project_name`?" {
		t.Fatalf("misspelt key: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "no-parent", "out")
	tr, err := New(WithOffline(true), Set("output_dir", dir))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Start()
	if !errors.Is(err, ErrIO) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "output_dir "+dir+": no such directory, nor its parent ") {
		t.Fatalf("output_dir: %v", err)
	}
	if err := os.Mkdir(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil { // not started: it may be, once the parent exists
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "emissions.csv")); err != nil {
		t.Fatal(err)
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

func TestVersionAndDescribe(t *testing.T) {
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

// An endpoint that accepts connections and never answers: Stop waits api_timeout_s for it.
func silentEndpoint(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String() + "/e"
}

func TestStopContextReturnsWhenTheContextEnds(t *testing.T) {
	tr, err := New(WithCountryISOCode("FRA"), WithSaveToFile(false), WithEmissionsEndpoint(silentEndpoint(t)),
		WithAPITimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	tr.Start()
	if _, err := tr.FlushContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = tr.StopContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 1500*time.Millisecond {
		t.Fatalf("StopContext: %v after %v", err, time.Since(begin))
	}
	// Close waits for the stop still running in the background; it has stopped the tracker.
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if time.Since(begin) < 1500*time.Millisecond {
		t.Fatalf("Close returned before the background stop finished (%v)", time.Since(begin))
	}
}

func TestCloseStopsARunningTrackerAndReportsItsError(t *testing.T) {
	tr, err := New(WithCountryISOCode("FRA"), WithSaveToFile(false), WithEmissionsEndpoint(silentEndpoint(t)),
		WithAPITimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	tr.Start()
	tr.Flush()
	if err := tr.Close(); !errors.Is(err, ErrNetwork) {
		t.Fatalf("Close of a running tracker with undelivered uploads: %v", err)
	}
	dir := t.TempDir()
	tr, _ = New(WithOffline(true), WithOutputDir(dir))
	tr.Start()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "emissions.csv")); err != nil || strings.Count(string(data), "\n") != 2 {
		t.Fatalf("Close wrote no final row: %v %q", err, data)
	}
}

// A Tracker dropped without Close is released by its finalizer without stopping: no final row,
// no wait for the network (the finalizer goroutine is the whole program's), and a warning.
func TestFinalizerDiscardsWithoutBlocking(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts connections, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dir := t.TempDir()
	warned := make(chan string, 16)
	SetLogHandler(func(level LogLevel, msg string) {
		if level == LogWarning && strings.Contains(msg, "without being stopped") {
			warned <- msg
		}
	})
	defer SetLogHandler(nil)
	func() {
		// log_level: the warning is what the test waits for (CI sets CODECARBON_LOG_LEVEL=error).
		tr, err := New(Options{"country_iso_code": "FRA", "output_dir": dir, "save_to_api": "true", "api_key": "k",
			"api_timeout_s": "5", "api_endpoint": "http://" + silent.Addr().String(), "log_level": "warning"})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Flush(); err != nil {
			t.Fatal(err)
		}
	}() // tr is unreachable now
	deadline := time.Now().Add(2 * time.Second)
	var msg string
	for msg == "" && time.Now().Before(deadline) {
		runtime.GC()
		select {
		case msg = <-warned:
		case <-time.After(20 * time.Millisecond):
		}
	}
	if msg == "" {
		t.Fatal("no warning within 2 s: the finalizer did not run, or it is blocked stopping the tracker")
	}
	data, err := os.ReadFile(filepath.Join(dir, "emissions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(data), "\n"); rows != 2 {
		t.Fatalf("header and the flush's row only, no final row: %d lines\n%s", rows, data)
	}
}

func TestPeekAndRestartAfterStop(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "measure_power_secs": "0.05",
		"output_dir": dir, "restart_after_stop": "true"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Peek(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("peek before start: %v", err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	p, err := tr.Peek()
	if err != nil || p.Measurements < 2 || p.EnergyConsumedKWh <= 0 {
		t.Fatalf("peek: %v %+v", err, p)
	}
	first, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil { // resumes the run
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := tr.Close(); err != nil { // stops the resumed run: its row is written
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(dir, "emissions.csv"))
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][2] != rows[2][2] {
		t.Fatalf("csv: %v %v", err, rows)
	}
	before, _ := strconv.ParseFloat(rows[1][13], 64)
	after, _ := strconv.ParseFloat(rows[2][13], 64)
	if before != first.EnergyConsumedKWh || after <= before {
		t.Fatalf("the resumed run's energy goes on from %v: %v", first.EnergyConsumedKWh, rows)
	}
}
