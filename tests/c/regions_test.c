/* Regions from C: a time-step loop with nested phases, one region open in 4 threads at once,
 * errors with their statuses, the "regions" of ct_tracker_json and the region file.
 *   regions_test OUT_DIR       prints key=value lines; exits non-zero on a failed check */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carbon_tracker.h"

static int failures = 0;
#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "CHECK failed line %d: %s (%s)\n", __LINE__, #cond, ct_last_error()); \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum { THREADS = 4, CALLS = 5000, STEPS = 50 };

static void *worker(void *arg) {
    ct_tracker *t = arg;
    for (int i = 0; i < CALLS; i++) {
        CHECK(ct_tracker_region_begin(t, "kernel") == CT_OK);
        CHECK(ct_tracker_region_end(t, "kernel") == CT_OK);
    }
    return NULL;
}

/* The number after "key": in the region object named `name` of a ct_tracker_json text. */
static double region_field(const char *json, const char *name, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"name\":\"%s\"", name);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    const char *end = strchr(p, '}');
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *k = strstr(p, pat);
    if (!k || k > end) {
        /* the name may come after the key: search back to the object's start */
        const char *start = p;
        while (start > json && *start != '{') start--;
        k = strstr(start, pat);
        if (!k || k > end) return -1;
    }
    return atof(k + strlen(pat));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char opts[1024];
    snprintf(
        opts, sizeof opts,
        "offline=true;country_iso_code=FRA;force_ram_power=10;measure_power_secs=0.02;experiment_name=c;output_dir=%s",
        argv[1]);
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new(opts, &t) == CT_OK);
    CHECK(ct_tracker_start(t) == CT_OK);

    for (int step = 0; step < STEPS; step++) {
        CHECK(ct_tracker_region_begin(t, "step") == CT_OK);
        CHECK(ct_tracker_region_begin(t, "solver") == CT_OK);
        sleep_ms(2);
        CHECK(ct_tracker_region_end(t, "solver") == CT_OK);
        CHECK(ct_tracker_region_begin(t, "io") == CT_OK);
        CHECK(ct_tracker_region_end(t, "io") == CT_OK);
        CHECK(ct_tracker_region_end(t, "step") == CT_OK);
        if (step % 10 == 0) {
            ct_emissions e;
            memset(&e, 0, sizeof e);
            e.struct_size = sizeof e;
            CHECK(ct_tracker_flush(t, &e) == CT_OK);
        }
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, t);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

    /* Errors: statuses and messages, nothing changed. */
    CHECK(ct_tracker_region_begin(NULL, "x") == CT_ERR_NULL_ARGUMENT);
    CHECK(ct_tracker_region_begin(t, NULL) == CT_ERR_NULL_ARGUMENT);
    CHECK(ct_tracker_region_begin(t, "") == CT_ERR_INVALID_OPTION);
    CHECK(ct_tracker_region_begin(t, "bad\xff") == CT_ERR_INVALID_OPTION);
    CHECK(ct_tracker_region_end(t, "never") == CT_ERR_INVALID_STATE);
    CHECK(strstr(ct_last_error(), "`never` is not open") != NULL);
    CHECK(ct_tracker_region_begin(t, "left open") == CT_OK);

    ct_emissions run;
    memset(&run, 0, sizeof run);
    run.struct_size = sizeof run;
    CHECK(ct_tracker_stop(t, &run) == CT_OK);
    CHECK(ct_tracker_region_begin(t, "step") == CT_ERR_INVALID_STATE);
    char *json = ct_tracker_json(t);
    CHECK(json != NULL);
    double step_calls = region_field(json, "step", "calls"), solver_calls = region_field(json, "solver", "calls");
    double kernel_calls = region_field(json, "kernel", "calls"), open_calls = region_field(json, "left open", "calls");
    double step_kwh = region_field(json, "step", "energy_consumed_kwh");
    double solver_kwh = region_field(json, "solver", "energy_consumed_kwh");
    CHECK(step_calls == STEPS && solver_calls == STEPS);
    CHECK(kernel_calls == THREADS * CALLS);
    CHECK(open_calls == 1); /* ended at stop */
    CHECK(solver_kwh > 0 && solver_kwh < step_kwh && step_kwh < run.energy_consumed_kwh);
    printf("step_calls=%.0f\nkernel_calls=%.0f\nstep_kwh=%.17g\nsolver_kwh=%.17g\nrun_kwh=%.17g\n", step_calls,
           kernel_calls, step_kwh, solver_kwh, run.energy_consumed_kwh);
    ct_string_free(json);
    ct_tracker_free(t);
    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
