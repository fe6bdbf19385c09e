package carbontracker

/*
#include <stdlib.h>
#include <string.h>
#include "carbon_tracker.h"

// One cgo call per boundary: the status, and on failure a copy of this thread's message (made
// on the same thread as the call, so no OS-thread pinning is needed).
static ct_status region_call(int begin, ct_tracker *t, const char *name, char **msg) {
    ct_status s = begin ? ct_tracker_region_begin(t, name) : ct_tracker_region_end(t, name);
    if (s != CT_OK) *msg = strdup(ct_last_error());
    return s;
}
*/
import "C"

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"unsafe"
)

// RegionTotals are one region's numbers since Start: calls, durations (every goroutine's calls
// count), and the energy and emissions attributed to the wall-clock time it was open (up to the
// last measurement).
type RegionTotals struct {
	Name              string  `json:"name"`
	Calls             uint64  `json:"calls"`
	OpenCalls         uint64  `json:"open_calls"`
	DurationS         float64 `json:"duration_s"`
	MinDurationS      float64 `json:"min_duration_s"`
	MaxDurationS      float64 `json:"max_duration_s"`
	WallS             float64 `json:"wall_s"`
	CPUEnergyKWh      float64 `json:"cpu_energy_kwh"`
	GPUEnergyKWh      float64 `json:"gpu_energy_kwh"`
	RAMEnergyKWh      float64 `json:"ram_energy_kwh"`
	EnergyConsumedKWh float64 `json:"energy_consumed_kwh"`
	EmissionsKg       float64 `json:"emissions_kg"`
	WaterConsumedL    float64 `json:"water_consumed_l"`
}

// Region names in C, kept for the process: a loop entered millions of times allocates nothing.
// Past this many distinct names, each call copies its name.
const maxCachedRegionNames = 4096

var (
	regionNames     sync.Map // string -> *C.char
	regionNameCount atomic.Int64
)

func regionName(name string) (p *C.char, free bool) {
	if v, ok := regionNames.Load(name); ok {
		return v.(*C.char), false
	}
	if regionNameCount.Load() >= maxCachedRegionNames {
		return C.CString(name), true
	}
	c := C.CString(name)
	if v, loaded := regionNames.LoadOrStore(name, c); loaded {
		C.free(unsafe.Pointer(c))
		return v.(*C.char), false
	}
	regionNameCount.Add(1)
	return c, false
}

func (t *Tracker) region(begin bool, name string) error {
	cname, free := regionName(name)
	if free {
		defer C.free(unsafe.Pointer(cname))
	}
	b := C.int(0)
	if begin {
		b = 1
	}
	return t.use(func(h *C.ct_tracker) error {
		var msg *C.char
		if s := Status(C.region_call(b, h, cname, &msg)); s != StatusOK {
			defer C.free(unsafe.Pointer(msg))
			return &Error{Status: s, Message: C.GoString(msg)}
		}
		return nil
	})
}

// RegionBegin begins a call of the region name: a named part of the program entered many times
// (a phase of a time step). No measurement is taken (well under a microsecond in C); calls
// accumulate per name, reported by Regions, Describe and the region file at each Flush and
// Stop. Regions may nest and overlap and be open in several goroutines at once. A new name that
// is empty, over 256 bytes or with control characters is ErrInvalidOption; after Stop,
// ErrInvalidState.
func (t *Tracker) RegionBegin(name string) error { return t.region(true, name) }

// RegionEnd ends a call of the region name: the latest begun on this OS thread, else the oldest
// open one (a goroutine may move between threads: counts and totals stay exact). A name with
// no open call is ErrInvalidState.
func (t *Tracker) RegionEnd(name string) error { return t.region(false, name) }

// Region begins a call of the region name and returns the function that ends it, with the
// first error of the two:
//
//	defer t.Region("solver")()
//	end := t.Region("io"); write(); if err := end(); err != nil { ... }
func (t *Tracker) Region(name string) func() error {
	beginErr := t.RegionBegin(name)
	return func() error {
		if beginErr != nil {
			return beginErr
		}
		return t.RegionEnd(name)
	}
}

// Regions returns every region's totals so far, in the order they were first begun.
func (t *Tracker) Regions() ([]RegionTotals, error) {
	text, err := t.Describe()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Regions []RegionTotals `json:"regions"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, err
	}
	return doc.Regions, nil
}
