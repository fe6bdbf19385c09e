/* carbon-tracker quick start: track a short CPU workload and print its energy and emissions.
 *
 *   bash examples/c/run.sh [SECONDS [OUTPUT_DIR]]
 *
 * Offline, with France's carbon intensity; writes OUTPUT_DIR/emissions.csv (default
 * target/examples). Also prints how long each library call took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carbon_tracker.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The "simulation": a busy loop on one core. */
static double work(double seconds) {
    double end = now_s() + seconds, x = 0;
    while (now_s() < end)
        for (int i = 1; i < 100000; i++) x += 1.0 / i;
    return x;
}

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, ct_last_error());
    return 1;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    const char *out_dir = argc > 2 ? argv[2] : "target/examples";

    char options[1024];
    snprintf(options, sizeof options, "project_name=quickstart;country_iso_code=FRA;measure_power_secs=1;output_dir=%s",
             out_dir);

    ct_tracker *tracker = NULL;
    double t0 = now_s();
    if (ct_tracker_new(options, &tracker) != CT_OK) return fail("ct_tracker_new");
    double t1 = now_s();
    if (ct_tracker_start(tracker) != CT_OK) return fail("ct_tracker_start");
    double t2 = now_s();

    double result = work(seconds);

    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    double t3 = now_s();
    if (ct_tracker_flush(tracker, &e) != CT_OK) return fail("ct_tracker_flush");
    double t4 = now_s();
    if (ct_tracker_stop(tracker, &e) != CT_OK) return fail("ct_tracker_stop");
    double t5 = now_s();
    ct_tracker_free(tracker);

    printf("carbon-tracker %s: %.1f s of CPU work (checksum %.3f), offline, country_iso_code=FRA\n", ct_version(),
           seconds, result);
    printf("  ct_tracker_new    %10.1f us\n", (t1 - t0) * 1e6);
    printf("  ct_tracker_start  %10.1f us  (first in this process: probes the hardware)\n", (t2 - t1) * 1e6);
    printf("  ct_tracker_flush  %10.1f us\n", (t4 - t3) * 1e6);
    printf("  ct_tracker_stop   %10.1f us\n", (t5 - t4) * 1e6);
    printf("duration   %.6g s (%llu measurements)\n", e.duration_s, (unsigned long long)e.measurements);
    printf("energy     %.6g kWh  (CPU %.6g, RAM %.6g, GPU %.6g)\n", e.energy_consumed_kwh, e.cpu_energy_kwh,
           e.ram_energy_kwh, e.gpu_energy_kwh);
    printf("power      CPU %.6g W, RAM %.6g W (means)\n", e.cpu_power_w, e.ram_power_w);
    printf("cpu use    %.1f %%\n", e.cpu_utilization_percent);
    printf("emissions  %.6g kg CO2e at %.6g g/kWh\n", e.emissions_kg, e.carbon_intensity_g_per_kwh);
    printf("rows in    %s/emissions.csv\n", out_dir);
    return 0;
}
