package carbontracker

/*
#include <string.h>
#include "carbon_tracker.h"

static ct_status predict_tracker(ct_tracker *t, ct_prediction *out) {
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    return ct_tracker_predict(t, out);
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"
)

// PredictionState says whether a Prediction's predicted numbers are there (ct_prediction_state).
type PredictionState int

const (
	// PredictionNoProgress: SetProgress was never called.
	PredictionNoProgress PredictionState = C.CT_PREDICTION_NO_PROGRESS
	// PredictionNotEnoughEvidence: fewer than 3 progress reports, under 1 % of the work, or no
	// measurement yet; the predicted numbers are NaN rather than a guess.
	PredictionNotEnoughEvidence PredictionState = C.CT_PREDICTION_NOT_ENOUGH_EVIDENCE
	// PredictionReady: the predicted totals and their intervals are filled.
	PredictionReady PredictionState = C.CT_PREDICTION_READY
)

// BudgetState is where the run stands against its budgets (options energy_budget_kwh,
// emissions_budget_kg): the worse of the two (ct_budget_state).
type BudgetState int

const (
	BudgetNone              BudgetState = C.CT_BUDGET_NONE
	BudgetBelow             BudgetState = C.CT_BUDGET_BELOW
	BudgetPredictedToExceed BudgetState = C.CT_BUDGET_PREDICTED_TO_EXCEED
	BudgetExceeded          BudgetState = C.CT_BUDGET_EXCEEDED
)

func (s PredictionState) String() string {
	switch s {
	case PredictionNoProgress:
		return "no progress"
	case PredictionNotEnoughEvidence:
		return "not enough evidence"
	case PredictionReady:
		return "ready"
	}
	return fmt.Sprintf("PredictionState(%d)", int(s))
}

func (s BudgetState) String() string {
	switch s {
	case BudgetNone:
		return "none"
	case BudgetBelow:
		return "below"
	case BudgetPredictedToExceed:
		return "predicted to exceed"
	case BudgetExceeded:
		return "exceeded"
	}
	return fmt.Sprintf("BudgetState(%d)", int(s))
}

// Prediction is a run's predicted totals at completion and its budget state (ct_prediction in
// carbon_tracker.h: the method, units and the 90 % intervals). The Predicted* numbers and
// TimeLeftS are NaN unless Ready().
type Prediction struct {
	State       PredictionState
	BudgetState BudgetState
	// Progress is done/total at the latest SetProgress, 0 to 1 (NaN before the first).
	Progress                                                                float64
	MeasuredDurationS, MeasuredEnergyKWh, MeasuredEmissionsKg               float64
	PredictedDurationS, PredictedDurationLowS, PredictedDurationHighS       float64
	PredictedEnergyKWh, PredictedEnergyLowKWh, PredictedEnergyHighKWh       float64
	PredictedEmissionsKg, PredictedEmissionsLowKg, PredictedEmissionsHighKg float64
	TimeLeftS, Confidence                                                   float64
	// The budgets set (0: none).
	EnergyBudgetKWh, EmissionsBudgetKg float64
}

// Ready reports whether the predicted numbers are there.
func (p Prediction) Ready() bool { return p.State == PredictionReady }

// SetProgress reports progress: done steps out of total (1 when done is a fraction). Cheap
// enough to call at every step. Numbers out of range are ErrInvalidOption (nothing recorded); a
// tracker that is not running is ErrInvalidState.
func (t *Tracker) SetProgress(done, total float64) error {
	return t.use(func(h *C.ct_tracker) error {
		return call(func() Status { return Status(C.ct_tracker_set_progress(h, C.double(done), C.double(total))) })
	})
}

// Predict returns the run's predicted totals at completion and its budget state (measuring
// first unless the last measurement is under 50 ms old). Not enough evidence is not an error:
// see Prediction.Ready.
func (t *Tracker) Predict() (p Prediction, err error) {
	err = t.use(func(h *C.ct_tracker) error {
		var out C.ct_prediction
		err := call(func() Status { return Status(C.predict_tracker(h, &out)) })
		if err == nil {
			p = predictionFromCType(&out)
		}
		return err
	})
	return p, err
}

func predictionFromCType(c *C.ct_prediction) Prediction {
	return Prediction{
		State: PredictionState(c.state), BudgetState: BudgetState(c.budget_state),
		Progress:          float64(c.progress),
		MeasuredDurationS: float64(c.measured_duration_s), MeasuredEnergyKWh: float64(c.measured_energy_kwh),
		MeasuredEmissionsKg: float64(c.measured_emissions_kg),
		PredictedDurationS:  float64(c.predicted_duration_s), PredictedDurationLowS: float64(c.predicted_duration_low_s),
		PredictedDurationHighS: float64(c.predicted_duration_high_s),
		PredictedEnergyKWh:     float64(c.predicted_energy_kwh), PredictedEnergyLowKWh: float64(c.predicted_energy_low_kwh),
		PredictedEnergyHighKWh: float64(c.predicted_energy_high_kwh),
		PredictedEmissionsKg:   float64(c.predicted_emissions_kg), PredictedEmissionsLowKg: float64(c.predicted_emissions_low_kg),
		PredictedEmissionsHighKg: float64(c.predicted_emissions_high_kg),
		TimeLeftS:                float64(c.time_left_s), Confidence: float64(c.confidence),
		EnergyBudgetKWh: float64(c.energy_budget_kwh), EmissionsBudgetKg: float64(c.emissions_budget_kg),
	}
}

// For prediction_test.go (cgo is not available in test files): ct_prediction as cgo generated
// it from the installed header, its C size, and the conversion over raw memory.
var cPredictionType = reflect.TypeOf(C.ct_prediction{})

const cPredictionSize = C.sizeof_ct_prediction

func predictionFromC(p unsafe.Pointer) Prediction { return predictionFromCType((*C.ct_prediction)(p)) }
