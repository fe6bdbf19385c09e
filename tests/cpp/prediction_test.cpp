// The C++ header's progress and prediction methods against the real library, on a steady load
// paced by the test builds' clock (ct_test_advance_clock_s: exported by `cargo test` builds only),
// as in the C++ loop of docs/cpp.md: predictions within 2 % of the real totals, budget states, errors.
#include <cmath>
#include <cstdio>
#include <string>

#include "carbon_tracker.hpp"

#include "check.hpp"

extern "C" void ct_test_advance_clock_s(double seconds);

int main() {
    using namespace carbon_tracker;
    Tracker tracker(Options()
                        .set("offline", true)
                        .set("save_to_file", false)
                        .set("country_iso_code", "FRA")
                        .set("force_ram_power", 100)
                        .set("force_cpu_power", 0.001)
                        .set("measure_power_secs", 86400)
                        .set("emissions_budget_kg", 0.0015)); // the run emits 1.557 g
    try {
        tracker.set_progress(0, 10);
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
    }
    tracker.start();
    CHECK(tracker.predict().state == CT_PREDICTION_NO_PROGRESS);
    CHECK(std::isnan(tracker.predict().predicted_energy_kwh));
    try {
        tracker.set_progress(11, 10);
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_OPTION);
        CHECK(std::string(e.what()).find("done=11, total=10") != std::string::npos);
    }
    const int steps = 100;
    Prediction at_half;
    bool warned_states_ok = true;
    tracker.set_progress(0, steps);
    for (int step = 1; step <= steps; step++) {
        ct_test_advance_clock_s(10); // the step's work
        tracker.set_progress(step, steps);
        Prediction p = tracker.predict();
        if (step == 2) warned_states_ok &= p.budget_state == CT_BUDGET_PREDICTED_TO_EXCEED;
        if (step == 50) at_half = p;
        if (step == 99) warned_states_ok &= p.budget_state == CT_BUDGET_EXCEEDED;
    }
    Emissions e = tracker.stop();
    CHECK(warned_states_ok);
    CHECK(at_half.ready());
    CHECK(at_half.progress == 0.5);
    CHECK(std::fabs(at_half.predicted_duration_s / e.duration_s - 1) < 0.02);
    CHECK(std::fabs(at_half.predicted_energy_kwh / e.energy_consumed_kwh - 1) < 0.02);
    CHECK(std::fabs(at_half.predicted_emissions_kg / e.emissions_kg - 1) < 0.02);
    CHECK(at_half.predicted_emissions_low_kg < at_half.predicted_emissions_kg);
    CHECK(at_half.predicted_emissions_high_kg > at_half.predicted_emissions_kg);
    CHECK(std::fabs(at_half.time_left_s - 500) < 1);
    CHECK(at_half.confidence == 0.9 && at_half.emissions_budget_kg == 0.0015 && at_half.energy_budget_kwh == 0);
    std::printf("at 50 %%: %.1f s [%.1f, %.1f], real %.1f s; %.4g kg, real %.4g kg\n", at_half.predicted_duration_s,
                at_half.predicted_duration_low_s, at_half.predicted_duration_high_s, e.duration_s,
                at_half.predicted_emissions_kg, e.emissions_kg);
    std::printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
