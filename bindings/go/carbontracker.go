// Package carbontracker measures the energy use and carbon emissions of the program, through
// the carbon-tracker native library (cgo).
//
// cgo finds the library with pkg-config (package carbon_tracker): after
// `cmake --install build --prefix P`, set PKG_CONFIG_PATH=P/lib/pkgconfig (nothing at all for
// a system prefix such as /usr/local) and `go build` as usual. The installed .pc carries an rpath
// for prefixes outside the linker's default directories, so the program runs as built. The
// package holds no C header of its own, so `go mod vendor` works: the header comes from the
// install.
//
//	t, err := carbontracker.New(carbontracker.WithCountryISOCode("FRA"), carbontracker.WithProjectName("sim"))
//	if err != nil { ... }
//	defer t.Close()
//	t.Start()
//	e, err := t.Flush()           // cumulative totals since Start
//	if errors.Is(err, carbontracker.ErrIO) { ... }   // e is still valid for ErrIO and ErrNetwork
//
// A Tracker is safe to use from several goroutines.
package carbontracker

/*
#cgo pkg-config: carbon_tracker
#include <stdlib.h>
#include <string.h>
#include "carbon_tracker.h"

static void blank_emissions(ct_emissions *out) {
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
}
static ct_status ct_report(ct_status (*fn)(ct_tracker *, ct_emissions *), ct_tracker *t, ct_emissions *out) {
    blank_emissions(out);
    return fn(t, out);
}
static ct_status flush_tracker(ct_tracker *t, ct_emissions *out) { return ct_report(ct_tracker_flush, t, out); }
static ct_status stop_tracker(ct_tracker *t, ct_emissions *out) { return ct_report(ct_tracker_stop, t, out); }
static ct_status peek_tracker(ct_tracker *t, ct_emissions *out) {
    blank_emissions(out);
    return ct_tracker_peek(t, out);
}
static ct_status stop_task(ct_tracker *t, const char *name, ct_emissions *out) {
    blank_emissions(out);
    return ct_tracker_stop_task(t, name, out);
}
// logger.go exports carbonTrackerGoLog; a file with //export may only declare C functions.
extern void carbonTrackerGoLog(void *user_data, ct_log_level level, char *message);
static void set_go_logger(int on) { ct_set_logger(on ? (ct_log_fn)carbonTrackerGoLog : NULL, NULL); }
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Emissions are the cumulative numbers since Start (kWh with PUE, W means, kg CO2e, litres).
type Emissions struct {
	DurationS, EmissionsKg, EmissionsRateKgPerS  float64
	CPUPowerW, GPUPowerW, RAMPowerW              float64
	CPUEnergyKWh, GPUEnergyKWh, RAMEnergyKWh     float64
	EnergyConsumedKWh, WaterConsumedL            float64
	CPUUtilizationPercent, GPUUtilizationPercent float64
	RAMUtilizationPercent, RAMUsedGB             float64
	CarbonIntensityGPerKWh, PUE                  float64
	Measurements                                 uint64
}

const (
	stateCreated int32 = iota
	stateRunning
	stateStopped
)

// Tracker is one native tracker. Its methods may be called from several goroutines; Close
// waits for calls in progress.
type Tracker struct {
	mu    sync.RWMutex // held shared by calls, exclusively by Close
	h     *C.ct_tracker
	state int32 // stateCreated, stateRunning, stateStopped (atomic)
}

// call runs fn on one OS thread so that ct_last_error (thread-local) belongs to that call.
func call(fn func() Status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s := fn(); s != StatusOK {
		return &Error{Status: s, Message: C.GoString(C.ct_last_error())}
	}
	return nil
}

// New creates a tracker (no probing, no I/O but the config files). Options apply in order; for
// a key given twice the last value wins.
func New(opts ...Option) (*Tracker, error) {
	options, err := optionsText(opts)
	if err != nil {
		return nil, err
	}
	text := C.CString(options)
	defer C.free(unsafe.Pointer(text))
	t := &Tracker{}
	if err := call(func() Status { return Status(C.ct_tracker_new(text, &t.h)) }); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(t, (*Tracker).discard)
	return t, nil
}

// discard is the finalizer of a Tracker dropped without Close: ct_tracker_discard releases it
// without stopping (no final row, no wait for uploads: the finalizer goroutine is the whole
// program's and must not block), and the library logs a warning that it was never stopped.
// Nothing else can reach t, so no lock is needed.
func (t *Tracker) discard() {
	if t.h != nil {
		C.ct_tracker_discard(t.h)
		t.h = nil
	}
}

// use runs fn with the handle, holding Close off until it returns.
func (t *Tracker) use(fn func(h *C.ct_tracker) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.h == nil {
		return &Error{Status: StatusNullArgument, Message: "the tracker is closed"}
	}
	return fn(t.h)
}

// Start starts measuring (or, on a stopped tracker made with restart_after_stop=true, resumes
// the run).
func (t *Tracker) Start() error {
	return t.use(func(h *C.ct_tracker) error {
		err := call(func() Status { return Status(C.ct_tracker_start(h)) })
		if err == nil {
			atomic.StoreInt32(&t.state, stateRunning)
		}
		return err
	})
}

// Peek returns the totals as of the last measurement (background measurements keep them
// fresh) without measuring or writing anything. ErrInvalidState unless the tracker runs.
func (t *Tracker) Peek() (e Emissions, err error) {
	err = t.use(func(h *C.ct_tracker) error {
		var out C.ct_emissions
		err := call(func() Status { return Status(C.peek_tracker(h, &out)) })
		e = fromC(&out)
		return err
	})
	return e, err
}

func (t *Tracker) report(stop bool) (e Emissions, err error) {
	err = t.use(func(h *C.ct_tracker) error {
		var out C.ct_emissions
		err := call(func() Status {
			if stop {
				return Status(C.stop_tracker(h, &out))
			}
			return Status(C.flush_tracker(h, &out))
		})
		if stop && (err == nil || numbersValid(err)) {
			atomic.StoreInt32(&t.state, stateStopped)
		}
		e = fromC(&out)
		return err
	})
	return e, err
}

// Flush measures, writes a CSV row, queues uploads (never waiting for the network) and returns
// the totals since Start. With ErrIO the returned numbers are still valid.
func (t *Tracker) Flush() (Emissions, error) { return t.report(false) }

// Stop takes the final measurement and row, and waits up to api_timeout_s for uploads. With
// ErrNetwork (uploads not delivered) or ErrIO the returned numbers are still valid.
func (t *Tracker) Stop() (Emissions, error) { return t.report(true) }

// FlushContext is Flush, returning ctx.Err() if ctx ends first.
func (t *Tracker) FlushContext(ctx context.Context) (Emissions, error) {
	return t.reportContext(ctx, false)
}

// StopContext is Stop, returning ctx.Err() if ctx ends before Stop has finished waiting for the
// uploads. A native call cannot be interrupted: the stop goes on in the background (the final
// row is written, uploads are given up after api_timeout_s) and Close waits for it.
func (t *Tracker) StopContext(ctx context.Context) (Emissions, error) {
	return t.reportContext(ctx, true)
}

func (t *Tracker) reportContext(ctx context.Context, stop bool) (Emissions, error) {
	if err := ctx.Err(); err != nil {
		return Emissions{}, err
	}
	type result struct {
		e   Emissions
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := t.report(stop)
		done <- result{e, err}
	}()
	select {
	case r := <-done:
		return r.e, r.err
	case <-ctx.Done():
		return Emissions{}, ctx.Err()
	}
}

// Close stops a running tracker (final measurement and row; the error of that stop, e.g.
// ErrNetwork, is returned) and frees it, after any call in progress has returned. Closing
// again returns nil. Tracker implements io.Closer. A Tracker dropped without Close is released
// by its finalizer without being stopped: nothing more is written, and a warning is logged.
func (t *Tracker) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h == nil {
		return nil
	}
	runtime.SetFinalizer(t, nil)
	var err error
	if atomic.LoadInt32(&t.state) == stateRunning {
		var out C.ct_emissions
		h := t.h
		err = call(func() Status { return Status(C.stop_tracker(h, &out)) })
		atomic.StoreInt32(&t.state, stateStopped)
	}
	C.ct_tracker_free(t.h)
	t.h = nil
	return err
}

// Describe returns the JSON document describing the detected hardware and which source or
// model produces each number (ct_tracker_json).
func (t *Tracker) Describe() (string, error) {
	var js string
	err := t.use(func(h *C.ct_tracker) error {
		var text *C.char
		err := call(func() Status {
			text = C.ct_tracker_json(h)
			if text == nil { // NULL: the real status of the failure
				return Status(C.ct_last_status())
			}
			return StatusOK
		})
		if err == nil {
			js = C.GoString(text)
			C.ct_string_free(text)
		}
		return err
	})
	return js, err
}

// stopTask calls ct_tracker_stop_task (tasks.go), whose C helper lives in this file's preamble.
func stopTask(h *C.ct_tracker, name *C.char) (Emissions, error) {
	var out C.ct_emissions
	err := call(func() Status { return Status(C.stop_task(h, name, &out)) })
	return fromC(&out), err
}

// setGoLogger points ct_set_logger at carbonTrackerGoLog (logger.go), or back to stderr.
func setGoLogger(on bool) {
	if on {
		C.set_go_logger(1)
	} else {
		C.set_go_logger(0)
	}
}

// Version is the library version.
func Version() string { return C.GoString(C.ct_version()) }

func fromC(c *C.ct_emissions) Emissions {
	return Emissions{
		DurationS: float64(c.duration_s), EmissionsKg: float64(c.emissions_kg),
		EmissionsRateKgPerS: float64(c.emissions_rate_kg_per_s),
		CPUPowerW:           float64(c.cpu_power_w), GPUPowerW: float64(c.gpu_power_w), RAMPowerW: float64(c.ram_power_w),
		CPUEnergyKWh: float64(c.cpu_energy_kwh), GPUEnergyKWh: float64(c.gpu_energy_kwh), RAMEnergyKWh: float64(c.ram_energy_kwh),
		EnergyConsumedKWh: float64(c.energy_consumed_kwh), WaterConsumedL: float64(c.water_consumed_l),
		CPUUtilizationPercent: float64(c.cpu_utilization_percent), GPUUtilizationPercent: float64(c.gpu_utilization_percent),
		RAMUtilizationPercent: float64(c.ram_utilization_percent), RAMUsedGB: float64(c.ram_used_gb),
		CarbonIntensityGPerKWh: float64(c.carbon_intensity_g_per_kwh), PUE: float64(c.pue),
		Measurements: uint64(c.measurements),
	}
}
