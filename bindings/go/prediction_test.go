package carbontracker

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// The Go side of ct_prediction against the header, as cgo compiled it: every C field but
// struct_size has a Go field of the same name (case and underscores aside), and the conversion
// copies each from its own offset.
func TestPredictionLayoutIsTheHeaders(t *testing.T) {
	c := cPredictionType
	if c.Size() != uintptr(cPredictionSize) {
		t.Fatalf("cgo's ct_prediction is %d bytes, sizeof is %d", c.Size(), cPredictionSize)
	}
	g := reflect.TypeOf(Prediction{})
	if c.NumField()-1 != g.NumField() {
		t.Fatalf("C has %d fields after struct_size, Go %d", c.NumField()-1, g.NumField())
	}
	mem := reflect.New(c)
	base := unsafe.Pointer(mem.Pointer())
	for i := 1; i < c.NumField(); i++ {
		f := c.Field(i)
		p := unsafe.Add(base, f.Offset)
		switch f.Type.Kind() {
		case reflect.Float64:
			*(*float64)(p) = float64(i) + 0.25
		case reflect.Uint32, reflect.Int32:
			*(*uint32)(p) = uint32(i)
		default:
			t.Fatalf("%s: unexpected kind %v", f.Name, f.Type.Kind())
		}
	}
	got := reflect.ValueOf(predictionFromC(base))
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for i := 1; i < c.NumField(); i++ {
		cf := c.Field(i)
		gf, ok := g.FieldByNameFunc(func(n string) bool { return norm(n) == norm(cf.Name) })
		if !ok {
			t.Errorf("no Go field for %s", cf.Name)
			continue
		}
		v := got.FieldByIndex(gf.Index)
		switch v.Kind() {
		case reflect.Float64:
			if v.Float() != float64(i)+0.25 {
				t.Errorf("%s -> %s = %v", cf.Name, gf.Name, v.Float())
			}
		case reflect.Int:
			if v.Int() != int64(i) {
				t.Errorf("%s -> %s = %v", cf.Name, gf.Name, v.Int())
			}
		default:
			t.Errorf("%s: Go kind %v", gf.Name, v.Kind())
		}
	}
}

func TestSetProgressAndPredict(t *testing.T) {
	tr, err := New(Set("offline", "true"), Set("save_to_file", "false"), WithCountryISOCode("FRA"),
		Set("force_ram_power", "100"), Set("energy_budget_kwh", "1e-12"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.SetProgress(0, 10); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("before Start: %v", err)
	}
	if _, err := tr.Predict(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("before Start: %v", err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := tr.Predict()
	if err != nil || p.State != PredictionNoProgress || !math.IsNaN(p.Progress) || p.Ready() {
		t.Fatalf("%+v %v", p, err)
	}
	var ce *Error
	if err := tr.SetProgress(2, 1); !errors.Is(err, ErrInvalidOption) || !errors.As(err, &ce) || !strings.Contains(ce.Message, "done=2, total=1") {
		t.Fatalf("done > total: %v", err)
	}
	// Steps from several goroutines (as a parallel loop would report them), 20 ms apart.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k <= 4; k++ {
				if err := tr.SetProgress(float64(k), 10); err != nil {
					t.Error(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	p, err = tr.Predict()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ready() || p.Progress != 0.4 || p.Confidence != 0.9 {
		t.Fatalf("%+v", p)
	}
	if !(p.PredictedEnergyLowKWh <= p.PredictedEnergyKWh && p.PredictedEnergyKWh <= p.PredictedEnergyHighKWh) || p.PredictedEnergyKWh < p.MeasuredEnergyKWh {
		t.Fatalf("interval: %+v", p)
	}
	if p.PredictedDurationS <= p.MeasuredDurationS || p.TimeLeftS <= 0 {
		t.Fatalf("duration: %+v", p)
	}
	if p.BudgetState != BudgetExceeded || p.EnergyBudgetKWh != 1e-12 || p.EmissionsBudgetKg != 0 {
		t.Fatalf("budget: %v %+v", p.BudgetState, p)
	}
	if p.BudgetState.String() != "exceeded" || p.State.String() != "ready" {
		t.Fatal(p.BudgetState.String(), p.State.String())
	}
}
