//go:build go1.21

package carbontracker

import (
	"context"
	"log/slog"
)

// SetLogger sends the library's log lines to l (nil: back to standard error), with the slog
// level of each line (SlogLevel) and the attribute logger=carbon_tracker. Go 1.21+; with older
// Go use SetLogHandler.
func SetLogger(l *slog.Logger) {
	if l == nil {
		SetLogHandler(nil)
		return
	}
	SetLogHandler(func(level LogLevel, message string) {
		l.Log(context.Background(), level.SlogLevel(), message, slog.String("logger", "carbon_tracker"))
	})
}

// SlogLevel maps the library's levels to slog's: debug, info, warn, error; critical is
// error+4.
func (l LogLevel) SlogLevel() slog.Level {
	switch {
	case l <= LogDebug:
		return slog.LevelDebug
	case l <= LogInfo:
		return slog.LevelInfo
	case l <= LogWarning:
		return slog.LevelWarn
	case l <= LogError:
		return slog.LevelError
	}
	return slog.LevelError + 4
}
