package carbontracker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type escapingCase struct {
	Name, Value, Escaped, Parsed string
}

func escapingVector(t *testing.T) []escapingCase {
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "vectors", "option_escaping.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Cases []escapingCase }
	if err := json.Unmarshal(data, &v); err != nil || len(v.Cases) == 0 {
		t.Fatalf("vector: %v", err)
	}
	return v.Cases
}

func TestEscapingMatchesTheSharedVector(t *testing.T) {
	for _, c := range escapingVector(t) {
		if got := escapeValue(c.Value); got != c.Escaped {
			t.Errorf("%s: escape(%q) = %q, want %q", c.Name, c.Value, got, c.Escaped)
		}
		if got := optionsString([]Option{WithProjectName(c.Value)}); got != "project_name="+c.Escaped {
			t.Errorf("%s: %q", c.Name, got)
		}
	}
}

func TestTheLibraryReadsEveryValueBack(t *testing.T) {
	for _, c := range escapingVector(t) {
		// The country follows the value: a bad escape would swallow it.
		tr, err := New(WithProjectName(c.Value), WithCountryISOCode("FRA"), WithOffline(true), WithSaveToFile(false))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		js, err := tr.Describe()
		var d struct {
			ProjectName string `json:"project_name"`
		}
		if err != nil || json.Unmarshal([]byte(js), &d) != nil || d.ProjectName != c.Parsed {
			t.Errorf("%s: project_name %q, want %q (%v)", c.Name, d.ProjectName, c.Parsed, err)
		}
		tr.Start()
		e, err := tr.Stop()
		if err != nil || e.CarbonIntensityGPerKWh != 56.039 {
			t.Errorf("%s: intensity %v (%v)", c.Name, e.CarbonIntensityGPerKWh, err)
		}
		tr.Close()
	}
}

func TestTypedOptions(t *testing.T) {
	got := optionsString([]Option{
		WithProjectName("p"), WithMeasurePower(300 * time.Millisecond), WithPUE(4e-7), WithOffline(true),
		Set("tracking_mode", "process"), Options{"b": "2", "a": "1"}, WithProjectName("last wins"),
	})
	want := "project_name=last wins;measure_power_secs=0.3;pue=4e-07;offline=true;tracking_mode=process;a=1;b=2"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if s := (Options{"project_name": `a;b\c`, "pue": "1.5"}).String(); s != `project_name=a\;b\\c;pue=1.5` {
		t.Fatal(s)
	}
	// The library reads the float back exactly.
	tr, err := New(WithOffline(true), WithSaveToFile(false), WithMeasurePower(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	js, _ := tr.Describe()
	if !strings.Contains(js, `"measure_power_secs":0.3,`) {
		t.Fatal(js)
	}
}

// tests/vectors/option_refusals.json: what the options string cannot carry is refused, in the
// library's words, instead of cutting the string at a NUL or letting a key set other options.
func TestRefusedOptionsMatchTheSharedVector(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "vectors", "option_refusals.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct{ Name, Key, Value, Message string }
	}
	if err := json.Unmarshal(data, &v); err != nil || len(v.Cases) < 4 {
		t.Fatalf("vector: %v", err)
	}
	for _, c := range v.Cases {
		tr, err := New(Set(c.Key, c.Value), Set("experiment_name", "after"), WithOffline(true), WithSaveToFile(false))
		if tr != nil {
			tr.Close()
		}
		var ce *Error
		if !errors.Is(err, ErrInvalidOption) || !errors.As(err, &ce) || ce.Message != c.Message {
			t.Errorf("%s: got %v, want ErrInvalidOption: %s", c.Name, err, c.Message)
		}
	}
}
