/* Progress, predictions and budgets through the C ABI, on loads whose answer is known: forced
 * powers (RAM 100 W, CPU 1 mW) and a pace set by this program on the test builds' clock
 * (ct_test_advance_clock_s, exported by builds with the test-hooks feature only: tests/c_abi.rs
 * links this program to the cdylib of `cargo test`). Checks everything itself (exit status 1 and
 * a message on failure) and prints the prediction table and key=value lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carbon_tracker.h"

/* Not in the header: test builds only. */
void ct_test_advance_clock_s(double seconds);

static int failures = 0;
#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                          \
            fprintf(stderr, "\n");                                 \
            failures++;                                            \
        }                                                          \
    } while (0)

static ct_tracker *started(const char *extra) {
    char opts[512];
    snprintf(opts, sizeof opts,
             "offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=100;force_cpu_power=0.001;"
             "measure_power_secs=86400;%s",
             extra);
    ct_tracker *t = NULL;
    if (ct_tracker_new(opts, &t) != CT_OK || ct_tracker_start(t) != CT_OK) {
        fprintf(stderr, "new/start: %s\n", ct_last_error());
        exit(2);
    }
    return t;
}

static ct_prediction predict(ct_tracker *t) {
    ct_prediction p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    ct_status s = ct_tracker_predict(t, &p);
    CHECK(s == CT_OK, "predict: %d %s", (int)s, ct_last_error());
    return p;
}

static double steady(int k) {
    (void)k;
    return 10.0;
}
static double warm_up(int k) { return k <= 10 ? 30.0 : 10.0; }
static double slow_down(int k) { return k <= 50 ? 10.0 : 13.0; }

static int covers(double low, double high, double v) { return low <= v && v <= high; }

static void three_loads(void) {
    struct {
        const char *name;
        double (*step_s)(int);
    } loads[] = {{"steady", steady}, {"warm-up then steady", warm_up}, {"slow-down half way", slow_down}};
    printf("| load | progress | duration predicted [90 %% interval] | real | energy predicted [interval] | real |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int l = 0; l < 3; l++) {
        ct_tracker *t = started("");
        ct_prediction at[3];
        CHECK(ct_tracker_set_progress(t, 0, 100) == CT_OK, "%s", ct_last_error());
        for (int k = 1; k <= 100; k++) {
            ct_test_advance_clock_s(loads[l].step_s(k));
            CHECK(ct_tracker_set_progress(t, k, 100) == CT_OK, "%s", ct_last_error());
            if (k % 25 == 0 && k < 100) at[k / 25 - 1] = predict(t);
        }
        ct_emissions e;
        memset(&e, 0, sizeof e);
        e.struct_size = sizeof e;
        CHECK(ct_tracker_stop(t, &e) == CT_OK, "%s", ct_last_error());
        ct_tracker_free(t);
        for (int i = 0; i < 3; i++) {
            ct_prediction *p = &at[i];
            printf("| %s | %d %% | %.1f s [%.1f, %.1f] | %.1f s | %.3f Wh [%.3f, %.3f] | %.3f Wh |\n", loads[l].name,
                   25 * (i + 1), p->predicted_duration_s, p->predicted_duration_low_s, p->predicted_duration_high_s,
                   e.duration_s, p->predicted_energy_kwh * 1e3, p->predicted_energy_low_kwh * 1e3,
                   p->predicted_energy_high_kwh * 1e3, e.energy_consumed_kwh * 1e3);
            CHECK(p->state == CT_PREDICTION_READY, "%s %d: state %d", loads[l].name, i, (int)p->state);
            CHECK(p->budget_state == CT_BUDGET_NONE, "no budget");
            CHECK(fabs(p->progress - 0.25 * (i + 1)) < 1e-12, "progress %g", p->progress);
            if (l == 0) {
                CHECK(fabs(p->predicted_duration_s / e.duration_s - 1) < 0.02, "steady duration %g vs %g",
                      p->predicted_duration_s, e.duration_s);
                CHECK(fabs(p->predicted_energy_kwh / e.energy_consumed_kwh - 1) < 0.02, "steady energy");
                CHECK(fabs(p->predicted_emissions_kg / e.emissions_kg - 1) < 0.02, "steady emissions");
            }
            CHECK(covers(p->predicted_duration_low_s, p->predicted_duration_high_s, e.duration_s),
                  "%s %d %%: [%g, %g] misses %g", loads[l].name, 25 * (i + 1), p->predicted_duration_low_s,
                  p->predicted_duration_high_s, e.duration_s);
            CHECK(covers(p->predicted_energy_low_kwh, p->predicted_energy_high_kwh, e.energy_consumed_kwh), "energy");
            CHECK(covers(p->predicted_emissions_low_kg, p->predicted_emissions_high_kg, e.emissions_kg), "emissions");
        }
    }
}

static int budget_lines = 0;
static char first_budget_line[512] = "";

static void on_log(void *user_data, ct_log_level level, const char *message) {
    (void)user_data;
    if (strstr(message, "budget") && level == CT_LOG_WARNING) {
        if (!budget_lines) snprintf(first_budget_line, sizeof first_budget_line, "%s", message);
        budget_lines++;
    }
}

static void budgets(void) {
    ct_set_logger(on_log, NULL);
    /* 100 steps of 10 s at 100 W: 27.8 Wh; the budget is 25 Wh. */
    ct_tracker *t = started("energy_budget_kwh=0.025;log_level=warning"); /* whatever CODECARBON_LOG_LEVEL says */
    ct_budget_state seen[8];
    int n = 0;
    ct_tracker_set_progress(t, 0, 100);
    for (int k = 1; k <= 100; k++) {
        ct_test_advance_clock_s(10);
        ct_tracker_set_progress(t, k, 100);
        ct_prediction p = predict(t);
        if ((n == 0 || seen[n - 1] != p.budget_state) && n < 8) seen[n++] = p.budget_state;
        if (k % 10 == 0) CHECK(ct_tracker_flush(t, NULL) == CT_OK, "flush goes on: %s", ct_last_error());
    }
    CHECK(ct_tracker_stop(t, NULL) == CT_OK, "%s", ct_last_error());
    ct_tracker_free(t);
    ct_set_logger(NULL, NULL);
    CHECK(n == 3 && seen[0] == CT_BUDGET_BELOW && seen[1] == CT_BUDGET_PREDICTED_TO_EXCEED &&
              seen[2] == CT_BUDGET_EXCEEDED,
          "budget states: %d of them", n);
    printf("budget_lines=%d\nfirst_budget_line=%s\n", budget_lines, first_budget_line);
}

static void misuse(void) {
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new("offline=true;save_to_file=false", &t) == CT_OK, "new");
    ct_prediction p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    CHECK(ct_tracker_set_progress(t, 1, 2) == CT_ERR_INVALID_STATE, "before start");
    CHECK(ct_tracker_predict(t, &p) == CT_ERR_INVALID_STATE, "before start");
    CHECK(ct_tracker_start(t) == CT_OK, "start");
    CHECK(ct_tracker_set_progress(NULL, 1, 2) == CT_ERR_NULL_ARGUMENT, "NULL");
    CHECK(ct_tracker_predict(t, NULL) == CT_ERR_NULL_ARGUMENT, "NULL out");
    CHECK(ct_tracker_set_progress(t, 3, 2) == CT_ERR_INVALID_OPTION, "done > total");
    printf("bad_progress_message=%s\n", ct_last_error());
    CHECK(ct_tracker_set_progress(t, NAN, 2) == CT_ERR_INVALID_OPTION, "NaN");
    CHECK(ct_tracker_set_progress(t, 0, 0) == CT_ERR_INVALID_OPTION, "total 0");
    p.struct_size = 8;
    CHECK(ct_tracker_predict(t, &p) == CT_ERR_INVALID_OPTION, "struct_size 8");
    printf("struct_size_message=%s\n", ct_last_error());
    /* Before any progress: said, not guessed. */
    p = predict(t);
    CHECK(p.state == CT_PREDICTION_NO_PROGRESS && isnan(p.progress) && isnan(p.predicted_energy_kwh), "no progress");
    /* Two reports: not enough evidence yet. */
    ct_tracker_set_progress(t, 0, 10);
    ct_test_advance_clock_s(1);
    ct_tracker_set_progress(t, 1, 10);
    p = predict(t);
    CHECK(p.state == CT_PREDICTION_NOT_ENOUGH_EVIDENCE && p.progress == 0.1 && isnan(p.time_left_s), "evidence");
    ct_test_advance_clock_s(1);
    ct_tracker_set_progress(t, 2, 10);
    p = predict(t);
    CHECK(p.state == CT_PREDICTION_READY && fabs(p.time_left_s - 8) < 1e-3, "ready: %g s left", p.time_left_s);
    CHECK(p.confidence == 0.9, "confidence");
    CHECK(ct_tracker_stop(t, NULL) == CT_OK, "stop");
    CHECK(ct_tracker_predict(t, &p) == CT_ERR_INVALID_STATE, "after stop");
    ct_tracker_free(t);
}

int main(void) {
    three_loads();
    budgets();
    misuse();
    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
