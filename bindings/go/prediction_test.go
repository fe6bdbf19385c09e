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

// The Go side of ct_prediction against the header, as cgo compiled it (checkLayout in
// layout_test.go).
func TestPredictionLayoutIsTheHeaders(t *testing.T) {
	checkLayout(t, cPredictionType, uintptr(cPredictionSize), reflect.TypeOf(Prediction{}), func(p unsafe.Pointer) reflect.Value {
		return reflect.ValueOf(predictionFromC(p))
	})
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
	// Steps from several goroutines (as a parallel loop would report them), 20 ms apart: 4 of
	// 100, so that the ~2 s predicted to remain outlast any delay of a loaded machine before
	// Predict (TimeLeftS > 0 below).
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k <= 4; k++ {
				if err := tr.SetProgress(float64(k), 100); err != nil {
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
	if !p.Ready() || p.Progress != 0.04 || p.Confidence != 0.9 {
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
