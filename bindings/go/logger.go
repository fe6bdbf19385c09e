package carbontracker

/*
#include "carbon_tracker.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// LogLevel is the level of a library log line; the values are ct_log_level's (Python's logging
// numbers: 10 debug ... 50 critical).
type LogLevel int

const (
	LogDebug    LogLevel = C.CT_LOG_DEBUG
	LogInfo     LogLevel = C.CT_LOG_INFO
	LogWarning  LogLevel = C.CT_LOG_WARNING
	LogError    LogLevel = C.CT_LOG_ERROR
	LogCritical LogLevel = C.CT_LOG_CRITICAL
)

func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "DEBUG"
	case LogInfo:
		return "INFO"
	case LogWarning:
		return "WARNING"
	case LogError:
		return "ERROR"
	case LogCritical:
		return "CRITICAL"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

// LogHandler receives the library's log lines (each tracker's log_level option decides which
// are made). It may be called on any goroutine, including from the library's own background
// thread, concurrently; it may call into this package.
type LogHandler func(level LogLevel, message string)

var (
	handlerMu sync.Mutex // orders SetLogHandler calls
	handler   atomic.Value
)

type handlerBox struct{ fn LogHandler }

// SetLogHandler sends the log lines of every tracker of the process to fn instead of standard
// error; nil restores standard error. SetLogger (Go 1.21+) routes them to a log/slog logger.
func SetLogHandler(fn LogHandler) {
	handlerMu.Lock()
	defer handlerMu.Unlock()
	handler.Store(handlerBox{fn})
	setGoLogger(fn != nil)
}

//export carbonTrackerGoLog
func carbonTrackerGoLog(_ unsafe.Pointer, level C.ct_log_level, message *C.char) {
	box, _ := handler.Load().(handlerBox)
	if box.fn == nil {
		return
	}
	text := C.GoString(message)
	defer func() { _ = recover() }() // a panic must not unwind through the library's C frames
	box.fn(LogLevel(level), text)
}
