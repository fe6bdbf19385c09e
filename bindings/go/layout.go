package carbontracker

// #include "carbon_tracker.h"
import "C"

import (
	"reflect"
	"unsafe"
)

// For layout_test.go (cgo is not available in test files): the ct_emissions struct as cgo
// generated it from the installed header, its C size, and fromC over raw memory.
var cEmissionsType = reflect.TypeOf(C.ct_emissions{})

const cEmissionsSize = C.sizeof_ct_emissions

func emissionsFromC(p unsafe.Pointer) Emissions { return fromC((*C.ct_emissions)(p)) }
