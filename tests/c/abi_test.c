/* End-to-end test of the C ABI, built and run by tests/c_abi.rs against the real library.
 * Usage: abi_test OUTPUT_DIR. Prints `key=value` lines the Rust side checks against the CSV;
 * exits non-zero with a message on the first failed check. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carbon_tracker.h"

static int failures = 0;
#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "CHECK failed line %d: ", __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
            failures++;                                          \
        }                                                        \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile double sink;
static void busy(double seconds) {
    double end = now_s() + seconds;
    double x = 0;
    while (now_s() < end)
        for (int i = 0; i < 10000; i++) x += i * 0.5;
    sink = x;
}

static void print(const char *tag, const ct_emissions *e) {
    printf("%s.duration_s=%.17g\n", tag, e->duration_s);
    printf("%s.emissions_kg=%.17g\n", tag, e->emissions_kg);
    printf("%s.energy_consumed_kwh=%.17g\n", tag, e->energy_consumed_kwh);
    printf("%s.cpu_energy_kwh=%.17g\n", tag, e->cpu_energy_kwh);
    printf("%s.ram_energy_kwh=%.17g\n", tag, e->ram_energy_kwh);
    printf("%s.cpu_power_w=%.17g\n", tag, e->cpu_power_w);
    printf("%s.ram_power_w=%.17g\n", tag, e->ram_power_w);
    printf("%s.carbon_intensity_g_per_kwh=%.17g\n", tag, e->carbon_intensity_g_per_kwh);
    printf("%s.measurements=%llu\n", tag, (unsigned long long)e->measurements);
}

/* Several threads flushing one handle while the background ticks run. */
static void *flusher(void *arg) {
    ct_tracker *t = arg;
    double last = 0;
    for (int i = 0; i < 300; i++) {
        ct_emissions e;
        memset(&e, 0, sizeof e);
        e.struct_size = sizeof e;
        if (i % 60 == 0) busy(0.03); /* let background ticks and fresh measurements interleave */
        if (ct_tracker_flush(t, &e) != CT_OK || e.energy_consumed_kwh < last) return (void *)1;
        last = e.energy_consumed_kwh;
    }
    return NULL;
}

static void threads_share_one_handle(void) {
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new("offline=true;save_to_file=false;force_ram_power=10;measure_power_secs=0.01", &t) == CT_OK,
          "new");
    CHECK(ct_tracker_start(t) == CT_OK, "start");
    pthread_t th[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, flusher, t);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK(r == NULL, "thread %d saw a failed flush or a total going backwards", i);
    }
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    CHECK(ct_tracker_stop(t, &e) == CT_OK, "stop");
    /* RAM at 10 W: its energy is 10 W x PUE x the measured time, which must equal the duration. */
    double measured_s = e.ram_energy_kwh * 3.6e6 / (10.0 * e.pue);
    CHECK(e.measurements > 5, "ticks and flushes measured: %llu", (unsigned long long)e.measurements);
    CHECK(measured_s > e.duration_s - 1e-6 && measured_s < e.duration_s + 1e-6, "measured %.9f s of %.9f s", measured_s,
          e.duration_s);
    ct_tracker_free(t);
}

/* An output that fails mid-run: CT_ERR_IO with the path, numbers still returned. */
static void io_error_keeps_numbers(const char *dir) {
    char options[4200], out[2048], csv[2100];
    snprintf(out, sizeof out, "%s/vanishing-dir", dir);
    snprintf(csv, sizeof csv, "%s/emissions.csv", out);
    snprintf(options, sizeof options, "offline=true;force_ram_power=10;output_dir=%s", out);
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new(options, &t) == CT_OK, "new");
    CHECK(ct_tracker_start(t) == CT_OK, "start creates the missing directory: %s", ct_last_error());
    CHECK(remove(csv) == 0 && remove(out) == 0, "the directory was created at start and is removed now");
    busy(0.1);
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    CHECK(ct_tracker_flush(t, &e) == CT_ERR_IO, "flush to a missing dir");
    CHECK(strstr(ct_last_error(), "vanishing-dir/emissions.csv") != NULL, "message names the file: %s",
          ct_last_error());
    CHECK(e.energy_consumed_kwh > 0 && e.duration_s > 0.09, "numbers filled despite the error");
    CHECK(ct_tracker_stop(t, &e) == CT_ERR_IO, "stop to a missing dir");
    CHECK(e.ram_energy_kwh * 3.6e6 / (10.0 * e.pue) > e.duration_s - 1e-6, "nothing lost");
    ct_tracker_free(t);
}

/* Mistakes caught at once, in the library's words (every binding and the command show the same
 * status and message): a country code no country has, a misspelt key, an output_dir that
 * cannot exist. */
static void mistakes_are_caught_early(const char *dir) {
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new("country_iso_code=FRN", &t) == CT_ERR_INVALID_OPTION && t == NULL, "FRN");
    CHECK(strstr(ct_last_error(), "no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France)") != NULL,
          "%s", ct_last_error());
    CHECK(ct_tracker_new("projet_name=x", &t) == CT_ERR_INVALID_OPTION, "misspelt key");
    CHECK(strcmp(ct_last_error(), "options: unknown option `projet_name`; did you mean `project_name`?") == 0, "%s",
          ct_last_error());
    char options[4096];
    snprintf(options, sizeof options, "offline=true;output_dir=%s/no-parent/out", dir);
    CHECK(ct_tracker_new(options, &t) == CT_OK, "new");
    CHECK(ct_tracker_start(t) == CT_ERR_IO, "start with an output_dir that cannot be made");
    CHECK(strstr(ct_last_error(), "no-parent/out: no such directory, nor its parent ") != NULL, "%s", ct_last_error());
    CHECK(strncmp(ct_last_error(), "output_dir ", 11) == 0, "%s", ct_last_error());
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    CHECK(ct_tracker_flush(t, &e) == CT_ERR_INVALID_STATE, "not started");
    ct_tracker_free(t);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: abi_test OUTPUT_DIR\n");
        return 2;
    }
    const char *version = ct_version();
    CHECK(version && strlen(version) > 0, "version");

    /* Misuse: every one is a status and a message, never a crash. */
    ct_tracker *t = NULL;
    CHECK(ct_tracker_new(NULL, NULL) == CT_ERR_NULL_ARGUMENT, "new(NULL out)");
    CHECK(ct_tracker_new("projet_name=x", &t) == CT_ERR_INVALID_OPTION, "unknown key");
    CHECK(strstr(ct_last_error(), "projet_name") != NULL, "message names the key: %s", ct_last_error());
    CHECK(t == NULL, "no handle on error");
    CHECK(ct_tracker_new("measure_power_secs=soon", &t) == CT_ERR_INVALID_OPTION, "bad number");
    CHECK(strstr(ct_last_error(), "measure_power_secs") != NULL, "%s", ct_last_error());
    CHECK(ct_tracker_new("project_name=\xff", &t) == CT_ERR_INVALID_OPTION, "invalid UTF-8");
    CHECK(ct_tracker_start(NULL) == CT_ERR_NULL_ARGUMENT, "start(NULL)");
    CHECK(ct_tracker_flush(NULL, NULL) == CT_ERR_NULL_ARGUMENT, "flush(NULL)");
    ct_tracker_free(NULL);

    char options[4096];
    snprintf(options, sizeof options,
             "project_name=c-abi\\;test;country_iso_code=FRA;measure_power_secs=0.2;output_dir=%s", argv[1]);
    CHECK(ct_tracker_new(options, &t) == CT_OK, "new: %s", ct_last_error());
    if (!t) return 1;

    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    CHECK(ct_tracker_flush(t, &e) == CT_ERR_INVALID_STATE, "flush before start");
    CHECK(strstr(ct_last_error(), "not started") != NULL, "%s", ct_last_error());
    CHECK(ct_tracker_stop(t, NULL) == CT_ERR_INVALID_STATE, "stop before start");
    CHECK(ct_tracker_peek(t, &e) == CT_ERR_INVALID_STATE, "peek before start");

    CHECK(ct_tracker_start(t) == CT_OK, "start: %s", ct_last_error());
    CHECK(ct_tracker_start(t) == CT_ERR_INVALID_STATE, "start twice");

    char *json = ct_tracker_json(t);
    CHECK(json && strstr(json, "\"state\":\"running\"") && strstr(json, "\"g_per_kwh\":56.039"), "json: %s",
          json ? json : ct_last_error());
    ct_string_free(json);
    CHECK(ct_tracker_json(NULL) == NULL, "json(NULL)");

    busy(0.7);
    CHECK(ct_tracker_flush(t, &e) == CT_OK, "flush: %s", ct_last_error());
    print("flush", &e);
    CHECK(e.duration_s > 0.6 && e.duration_s < 5.0, "flush duration %g", e.duration_s);
    /* Timing check; valgrind serialises threads, so it is skipped there. */
    CHECK(getenv("CT_UNDER_VALGRIND") || e.measurements >= 2, "background ticks ran: %llu",
          (unsigned long long)e.measurements);

    ct_emissions bad;
    memset(&bad, 0, sizeof bad);
    CHECK(ct_tracker_flush(t, &bad) == CT_ERR_INVALID_OPTION, "struct_size 0");
    CHECK(ct_tracker_peek(t, &bad) == CT_ERR_INVALID_OPTION, "peek: struct_size 0");
    CHECK(ct_tracker_peek(t, NULL) == CT_ERR_NULL_ARGUMENT, "peek(t, NULL)");
    CHECK(ct_tracker_peek(NULL, &e) == CT_ERR_NULL_ARGUMENT, "peek(NULL, out)");

    /* peek: the totals of the last measurement (the flush's), nothing measured or written. */
    ct_emissions p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    CHECK(ct_tracker_peek(t, &p) == CT_OK, "peek: %s", ct_last_error());
    CHECK(p.measurements >= e.measurements && p.energy_consumed_kwh >= e.energy_consumed_kwh,
          "peek is at least the flush");
    CHECK(p.duration_s <= e.duration_s + 0.3, "peek reports the last measurement's time: %g vs %g", p.duration_s,
          e.duration_s);

    busy(0.4);
    ct_emissions s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    CHECK(ct_tracker_stop(t, &s) == CT_OK, "stop: %s", ct_last_error());
    print("stop", &s);
    CHECK(s.energy_consumed_kwh > e.energy_consumed_kwh, "energy grows");
    CHECK(s.duration_s > e.duration_s, "duration grows");

    CHECK(ct_tracker_stop(t, NULL) == CT_ERR_INVALID_STATE, "stop twice");
    CHECK(ct_tracker_flush(t, NULL) == CT_ERR_INVALID_STATE, "flush after stop");
    CHECK(ct_tracker_start(t) == CT_ERR_INVALID_STATE, "restart");
    CHECK(ct_tracker_peek(t, &p) == CT_ERR_INVALID_STATE, "peek after stop");
    ct_tracker_free(t);

    threads_share_one_handle();
    io_error_keeps_numbers(argv[1]);
    mistakes_are_caught_early(argv[1]);

    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
