//go:build go1.21

package carbontracker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSetLoggerRoutesToSlog(t *testing.T) {
	var buf bytes.Buffer
	var mu lockedWriter
	mu.w = &buf
	SetLogger(slog.New(slog.NewTextHandler(&mu, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer SetLogger(nil)
	tr, err := New(Options{"offline": "true", "country_iso_code": "FRA", "save_to_file": "false", "log_level": "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	text := mu.String()
	if !strings.Contains(text, "level=INFO") || !strings.Contains(text, "56.039") || !strings.Contains(text, "logger=carbon_tracker") {
		t.Fatalf("slog output: %q", text)
	}
	if LogCritical.SlogLevel() <= slog.LevelError || LogWarning.SlogLevel() != slog.LevelWarn {
		t.Fatal("level mapping")
	}
}
