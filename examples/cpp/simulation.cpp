// A C++ "simulation" whose time step has phases (regions: solver, halo exchange, output), that
// reports its progress at every step, and its emissions and the predicted totals at completion
// every 100 steps.
//   bash examples/cpp/run.sh [STEPS [OUTPUT_DIR]]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "carbon_tracker.hpp"

static double solve(int i) { // the solver phase of a toy model
    double x = 0;
    for (int k = 1; k < 150000; k++) x += std::sin(i + k * 1e-3) / k;
    return x;
}

static double exchange(double state) { // stands for a halo exchange
    double x = state;
    for (int k = 1; k < 30000; k++) x = std::fmod(x * 1.000001 + k, 1e6);
    return x;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? std::atoi(argv[1]) : 300;
    std::string out_dir = argc > 2 ? argv[2] : "target/examples";
    try {
        carbon_tracker::Tracker tracker(carbon_tracker::Options()
                                            .set("project_name", "cpp-simulation")
                                            .set("country_iso_code", "DEU")
                                            .set("measure_power_secs", 1)
                                            .set("output_dir", out_dir));
        tracker.start();
        double state = 0;
        for (int i = 1; i <= steps; i++) {
            carbon_tracker::Region step(tracker, "step"); // ends with the loop body
            {
                carbon_tracker::Region r(tracker, "solver");
                state += solve(i);
            }
            {
                carbon_tracker::Region r(tracker, "halo exchange");
                state = exchange(state);
            }
            tracker.set_progress(i, steps); // cheap: every step
            if (i % 100 == 0) {
                carbon_tracker::Region r(tracker, "output");
                auto e = tracker.flush(); // also rewrites the region file: one row per region
                std::printf("step %4d: %.3f s, %.4g kWh, %.4g kg CO2e\n", i, e.duration_s, e.energy_consumed_kwh,
                            e.emissions_kg);
                carbon_tracker::Prediction p = tracker.predict();
                if (p.ready())
                    std::printf("           predicted at the end: %.4g kWh [%.4g, %.4g], %.4g kg CO2e, %.1f s left\n",
                                p.predicted_energy_kwh, p.predicted_energy_low_kwh, p.predicted_energy_high_kwh,
                                p.predicted_emissions_kg, p.time_left_s);
            }
        }
        auto e = tracker.stop();
        std::printf("done (state %.3f): %.3f s, %.4g kWh, %.4g kg CO2e at %.5g g/kWh, rows in %s/emissions.csv, "
                    "regions beside it\n",
                    state, e.duration_s, e.energy_consumed_kwh, e.emissions_kg, e.carbon_intensity_g_per_kwh,
                    out_dir.c_str());
    } catch (const carbon_tracker::Error &err) {
        std::fprintf(stderr, "carbon-tracker error %d: %s\n", err.status(), err.what());
        return 1;
    }
    return 0;
}
