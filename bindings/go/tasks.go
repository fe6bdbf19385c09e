package carbontracker

// #include <stdlib.h>
// #include "carbon_tracker.h"
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// StartTask starts a named measurement window, starting the tracker if it is not running.
// Tasks may overlap and nest; the run's own measurement goes on. A name that is running already
// is ErrInvalidState; an empty name, or one over 256 bytes or with control characters, is
// ErrInvalidOption.
func (t *Tracker) StartTask(name string) error {
	text := C.CString(name)
	defer C.free(unsafe.Pointer(text))
	return t.use(func(h *C.ct_tracker) error {
		err := call(func() Status { return Status(C.ct_tracker_start_task(h, text)) })
		if err == nil {
			atomic.StoreInt32(&t.state, stateRunning)
		}
		return err
	})
}

// StopTask ends the running task name and returns its own numbers: the run's counters at its
// stop minus those at its start. The task's row (CodeCarbon's per-run task file) is written at
// the next Flush or Stop. A name that is not running is ErrInvalidState.
func (t *Tracker) StopTask(name string) (e Emissions, err error) {
	text := C.CString(name)
	defer C.free(unsafe.Pointer(text))
	err = t.use(func(h *C.ct_tracker) error {
		var err error
		e, err = stopTask(h, text)
		return err
	})
	return e, err
}
