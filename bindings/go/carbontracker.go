// Package carbontracker measures the energy use and carbon emissions of the program, through
// the carbon-tracker native library (cgo).
//
// Point cgo at the library with pkg-config (after `cmake --install`):
//
//	CGO_CFLAGS="$(pkg-config --cflags carbon_tracker)" CGO_LDFLAGS="$(pkg-config --libs carbon_tracker)" go build
//
// or directly at a cargo build:
//
//	CGO_LDFLAGS="-L/path/to/target/release -Wl,-rpath,/path/to/target/release" go build
//
// A Tracker is safe to use from several goroutines.
package carbontracker

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lcarbon_tracker
#include <stdlib.h>
#include <string.h>
#include "carbon_tracker.h"

static ct_status ct_report(ct_status (*fn)(ct_tracker *, ct_emissions *), ct_tracker *t, ct_emissions *out) {
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    return fn(t, out);
}
static ct_status flush_tracker(ct_tracker *t, ct_emissions *out) { return ct_report(ct_tracker_flush, t, out); }
static ct_status stop_tracker(ct_tracker *t, ct_emissions *out) { return ct_report(ct_tracker_stop, t, out); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// Status is the library's ct_status.
type Status int

const (
	OK               Status = C.CT_OK
	ErrNullArgument  Status = C.CT_ERR_NULL_ARGUMENT
	ErrInvalidOption Status = C.CT_ERR_INVALID_OPTION
	ErrInvalidState  Status = C.CT_ERR_INVALID_STATE
	ErrIO            Status = C.CT_ERR_IO
	ErrHardware      Status = C.CT_ERR_HARDWARE
	ErrNetwork       Status = C.CT_ERR_NETWORK
	ErrPanic         Status = C.CT_ERR_PANIC
)

var statusNames = map[Status]string{
	OK: "CT_OK", ErrNullArgument: "CT_ERR_NULL_ARGUMENT", ErrInvalidOption: "CT_ERR_INVALID_OPTION",
	ErrInvalidState: "CT_ERR_INVALID_STATE", ErrIO: "CT_ERR_IO", ErrHardware: "CT_ERR_HARDWARE",
	ErrNetwork: "CT_ERR_NETWORK", ErrPanic: "CT_ERR_PANIC",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ct_status(%d)", int(s))
}

// Error is a failed call: its status and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return e.Status.String() + ": " + e.Message }

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

// Options are CodeCarbon's config keys and their values, e.g. {"country_iso_code": "FRA"}.
type Options map[string]string

// String is the library's `key=value;...` form, keys sorted, `;` and `\` escaped.
func (o Options) String() string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	esc := strings.NewReplacer(`\`, `\\`, `;`, `\;`)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+esc.Replace(o[k]))
	}
	return strings.Join(parts, ";")
}

// Tracker is one native tracker. Its methods may be called from several goroutines; Close
// waits for calls in progress.
type Tracker struct {
	mu sync.RWMutex
	h  *C.ct_tracker
}

// call runs fn on one OS thread so that ct_last_error (thread-local) belongs to that call.
func call(fn func() Status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s := fn(); s != OK {
		return &Error{Status: s, Message: C.GoString(C.ct_last_error())}
	}
	return nil
}

// New creates a tracker (no probing, no I/O but the config files).
func New(opts Options) (*Tracker, error) {
	text := C.CString(opts.String())
	defer C.free(unsafe.Pointer(text))
	t := &Tracker{}
	if err := call(func() Status { return Status(C.ct_tracker_new(text, &t.h)) }); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(t, (*Tracker).Close)
	return t, nil
}

func (t *Tracker) handle() (*C.ct_tracker, error) {
	if t.h == nil {
		return nil, &Error{Status: ErrNullArgument, Message: "the tracker is closed"}
	}
	return t.h, nil
}

// Start starts measuring.
func (t *Tracker) Start() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, err := t.handle()
	if err != nil {
		return err
	}
	return call(func() Status { return Status(C.ct_tracker_start(h)) })
}

func (t *Tracker) report(stop bool) (Emissions, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, err := t.handle()
	if err != nil {
		return Emissions{}, err
	}
	var out C.ct_emissions
	err = call(func() Status {
		if stop {
			return Status(C.stop_tracker(h, &out))
		}
		return Status(C.flush_tracker(h, &out))
	})
	return fromC(&out), err
}

// Flush measures, writes a CSV row, queues uploads and returns the totals since Start. With an
// *Error of status ErrIO or ErrNetwork the returned numbers are still valid.
func (t *Tracker) Flush() (Emissions, error) { return t.report(false) }

// Stop takes the final measurement and row, and waits up to api_timeout_s for uploads.
func (t *Tracker) Stop() (Emissions, error) { return t.report(true) }

// Close frees the tracker, stopping it first if it runs. Safe to call twice.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h != nil {
		C.ct_tracker_free(t.h)
		t.h = nil
	}
}

// Describe returns the JSON document describing the detected hardware and which source or
// model produces each number (ct_tracker_json).
func (t *Tracker) Describe() (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, err := t.handle()
	if err != nil {
		return "", err
	}
	var text *C.char
	err = call(func() Status {
		text = C.ct_tracker_json(h)
		if text == nil {
			return ErrPanic
		}
		return OK
	})
	if err != nil {
		return "", err
	}
	defer C.ct_string_free(text)
	return C.GoString(text), nil
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
