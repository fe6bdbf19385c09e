package carbontracker

// #include "carbon_tracker.h"
import "C"

import (
	"errors"
	"fmt"
)

// Status is the library's ct_status; the values are the header's.
type Status int

const (
	StatusOK            Status = C.CT_OK
	StatusNullArgument  Status = C.CT_ERR_NULL_ARGUMENT
	StatusInvalidOption Status = C.CT_ERR_INVALID_OPTION
	StatusInvalidState  Status = C.CT_ERR_INVALID_STATE
	StatusIO            Status = C.CT_ERR_IO
	StatusHardware      Status = C.CT_ERR_HARDWARE // reserved: never returned (a failing hardware source falls back to a model)
	StatusNetwork       Status = C.CT_ERR_NETWORK
	StatusPanic         Status = C.CT_ERR_PANIC
)

// Sentinel errors, one per failing status: errors.Is(err, ErrInvalidOption). The *Error the
// calls return wraps one of them and carries the library's message (errors.As).
var (
	ErrNullArgument  = errors.New("carbon_tracker: a required argument is missing or the tracker is closed (CT_ERR_NULL_ARGUMENT)")
	ErrInvalidOption = errors.New("carbon_tracker: invalid option (CT_ERR_INVALID_OPTION)")
	ErrInvalidState  = errors.New("carbon_tracker: call not allowed in the tracker's state (CT_ERR_INVALID_STATE)")
	ErrIO            = errors.New("carbon_tracker: writing an output failed (CT_ERR_IO)")
	ErrHardware      = errors.New("carbon_tracker: reserved status, never returned (CT_ERR_HARDWARE)")
	ErrNetwork       = errors.New("carbon_tracker: uploads not delivered (CT_ERR_NETWORK)")
	ErrPanic         = errors.New("carbon_tracker: internal error (CT_ERR_PANIC)")
)

var statuses = map[Status]struct {
	name string
	err  error
}{
	StatusOK:            {"CT_OK", nil},
	StatusNullArgument:  {"CT_ERR_NULL_ARGUMENT", ErrNullArgument},
	StatusInvalidOption: {"CT_ERR_INVALID_OPTION", ErrInvalidOption},
	StatusInvalidState:  {"CT_ERR_INVALID_STATE", ErrInvalidState},
	StatusIO:            {"CT_ERR_IO", ErrIO},
	StatusHardware:      {"CT_ERR_HARDWARE", ErrHardware},
	StatusNetwork:       {"CT_ERR_NETWORK", ErrNetwork},
	StatusPanic:         {"CT_ERR_PANIC", ErrPanic},
}

// String is the header's name of the status, e.g. "CT_ERR_IO".
func (s Status) String() string {
	if v, ok := statuses[s]; ok {
		return v.name
	}
	return fmt.Sprintf("ct_status(%d)", int(s))
}

// Err is the sentinel error of the status (nil for StatusOK and unknown statuses).
func (s Status) Err() error { return statuses[s].err }

// Error is a failed call: its status and the library's message. It unwraps to the status's
// sentinel error.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return e.Status.String() + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrIO) and friends work.
func (e *Error) Unwrap() error { return e.Status.Err() }

// numbersValid: output failures, after which the returned Emissions are still the measurement.
func numbersValid(err error) bool { return errors.Is(err, ErrIO) || errors.Is(err, ErrNetwork) }
