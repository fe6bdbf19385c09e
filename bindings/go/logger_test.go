package carbontracker

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedWriter: log lines may come from several threads at once.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		l.w.Write(p)
	}
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type line struct {
	level LogLevel
	msg   string
}

type collector struct {
	mu    sync.Mutex
	lines []line
}

func (c *collector) handle(level LogLevel, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line{level, msg})
}

func (c *collector) find(part string) *line {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.lines {
		if strings.Contains(c.lines[i].msg, part) {
			return &c.lines[i]
		}
	}
	return nil
}

func TestLogHandlerGetsLinesFromCallerAndBackgroundThread(t *testing.T) {
	var c collector
	SetLogHandler(c.handle)
	defer SetLogHandler(nil)
	// A port where nothing listens: the upload fails on the library's background thread.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tr, err := New(Options{"country_iso_code": "FRA", "save_to_file": "false", "log_level": "debug",
		"emissions_endpoint": fmt.Sprintf("http://127.0.0.1:%d/e", port), "api_timeout_s": "0.3"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Flush(); err != nil {
		t.Fatal(err)
	}
	// The upload the flush queued fails on the network thread, which says it retries; on a
	// loaded machine that thread may run only after Stop's 0.3 s are over: wait for it first.
	for deadline := time.Now().Add(10 * time.Second); c.find("retrying") == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := tr.Stop(); !errors.Is(err, ErrNetwork) {
		t.Fatalf("stop: %v", err)
	}
	if got := c.find("56.039"); got == nil || got.level != LogInfo {
		t.Fatalf("no INFO intensity line: %+v", c.lines)
	}
	// Made on the library's network thread (the first attempt fails at once), not the caller's.
	if got := c.find("retrying"); got == nil || got.level != LogWarning {
		t.Fatalf("no WARNING retry line from the background thread: %+v", c.lines)
	}
	if got := c.find("not delivered"); got == nil || got.level != LogError {
		t.Fatalf("no ERROR upload line: %+v", c.lines)
	}
	if LogWarning.String() != "WARNING" || LogLevel(99).String() != "LogLevel(99)" {
		t.Fatal("names")
	}
}

func TestLogHandlerMayCallBackIntoTheLibrary(t *testing.T) {
	var versions []string
	var mu sync.Mutex
	SetLogHandler(func(level LogLevel, msg string) {
		mu.Lock()
		versions = append(versions, Version()) // re-entering the library from the callback
		mu.Unlock()
	})
	defer SetLogHandler(nil)
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "save_to_file": "false", "log_level": "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Start()
	tr.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(versions) == 0 || versions[0] != Version() {
		t.Fatalf("callback not called: %v", versions)
	}
}

func TestTasksNestOverlapAndFail(t *testing.T) {
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "save_to_file": "false",
		"force_ram_power": "10", "measure_power_secs": "0.05"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.StartTask("outer"); err != nil { // starts the tracker
		t.Fatal(err)
	}
	if err := tr.StartTask("inner"); err != nil {
		t.Fatal(err)
	}
	if err := tr.StartTask("inner"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("running name: %v", err)
	}
	if err := tr.StartTask(""); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("empty name: %v", err)
	}
	inner, err := tr.StopTask("inner")
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tr.StopTask("outer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.StopTask("outer"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("stopped name: %v", err)
	}
	total, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !(inner.RAMEnergyKWh > 0 && inner.RAMEnergyKWh <= outer.RAMEnergyKWh && outer.RAMEnergyKWh <= total.RAMEnergyKWh) {
		t.Fatalf("windows: %+v %+v %+v", inner, outer, total)
	}
	for _, e := range []Emissions{inner, outer} { // RAM at 10 W: energy = duration x 10 W
		if math.Abs(e.RAMEnergyKWh*3.6e6/10-e.DurationS) > 1e-6 {
			t.Fatalf("window energy %v for %v s", e.RAMEnergyKWh, e.DurationS)
		}
	}
}

func TestTasksFrom8Goroutines(t *testing.T) {
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "save_to_file": "false", "measure_power_secs": "0.02"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				name := fmt.Sprintf("g%d-%d", g, i)
				if err := tr.StartTask(name); err != nil {
					errs <- err
					return
				}
				if e, err := tr.StopTask(name); err != nil || e.DurationS < 0 {
					errs <- fmt.Errorf("%s: %v %+v", name, err, e)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
