/* Tasks and log routing through the C ABI:
 * - a logging callback that calls back into the library (on the same tracker) from inside the
 *   callback, on the caller's thread and on the background thread, must not deadlock;
 * - tasks: start_task starts the tracker, overlap, a clear error for an unknown name, numbers;
 * - a callback whose own call fails, during a failing call, leaves that call's status and message
 *   for the caller to read.
 * Prints key=value lines checked by tests/c_abi.rs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carbon_tracker.h"

static ct_tracker *g_tracker = NULL;
static int g_lines = 0, g_reentered = 0, g_bad_level = 0;
static char g_first[512] = "";
static int g_fail_in_callback = 0, g_failed_in_callback = 0;
/* The callback runs on the caller's thread and on the library's background thread (a tick's
 * lines are handed over after the tick, possibly while main stops and frees the tracker): the
 * counters and g_tracker are used under this lock, and main clears g_tracker under it before
 * freeing the handle. Recursive: a line made by the call inside the callback comes back here. */
static pthread_mutex_t g_mu;

static void on_log_locked(void *user_data, ct_log_level level, const char *message);

static void on_log(void *user_data, ct_log_level level, const char *message) {
    pthread_mutex_lock(&g_mu);
    on_log_locked(user_data, level, message);
    pthread_mutex_unlock(&g_mu);
}

static void on_log_locked(void *user_data, ct_log_level level, const char *message) {
    if (g_fail_in_callback && ct_tracker_start(NULL) == CT_ERR_NULL_ARGUMENT) g_failed_in_callback++;
    if (!g_tracker) return; /* a line handed over after main let go of the tracker: not counted */
    int *calls = (int *)user_data;
    (*calls)++;
    g_lines++;
    if (level != CT_LOG_DEBUG && level != CT_LOG_INFO && level != CT_LOG_WARNING && level != CT_LOG_ERROR &&
        level != CT_LOG_CRITICAL)
        g_bad_level++;
    if (g_first[0] == '\0') snprintf(g_first, sizeof g_first, "%d:%s", (int)level, message);
    /* Back into the library from inside the callback: describe the same tracker. */
    char *json = ct_tracker_json(g_tracker);
    if (json) {
        g_reentered++;
        ct_string_free(json);
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ct_emissions fresh(void) {
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    return e;
}

int main(void) {
    int calls = 0;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_mu, &attr);
    ct_set_logger(on_log, &calls);
    /* debug level: every tick (10 ms, on the background thread) logs a line. */
    if (ct_tracker_new("offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=10;"
                       "measure_power_secs=0.01;log_level=debug",
                       &g_tracker) != CT_OK) {
        fprintf(stderr, "new: %s\n", ct_last_error());
        return 1;
    }
    /* start_task starts the tracker. */
    if (ct_tracker_start_task(g_tracker, "outer") != CT_OK) return 2;
    sleep_ms(30);
    if (ct_tracker_start_task(g_tracker, "inner") != CT_OK) return 3;
    printf("twice=%d\n", (int)ct_tracker_start_task(g_tracker, "inner"));
    sleep_ms(30);
    ct_emissions inner = fresh(), outer = fresh();
    if (ct_tracker_stop_task(g_tracker, "inner", &inner) != CT_OK) return 4;
    if (ct_tracker_stop_task(g_tracker, "outer", &outer) != CT_OK) return 5;
    printf("unknown=%d\n", (int)ct_tracker_stop_task(g_tracker, "nope", NULL));
    printf("unknown_message=%s\n", ct_last_error());
    printf("null_name=%d\n", (int)ct_tracker_start_task(g_tracker, NULL));
    printf("inner_duration=%.9f\ninner_ram_kwh=%.12e\n", inner.duration_s, inner.ram_energy_kwh);
    printf("outer_duration=%.9f\nouter_ram_kwh=%.12e\n", outer.duration_s, outer.ram_energy_kwh);
    ct_emissions run = fresh();
    if (ct_tracker_stop(g_tracker, &run) != CT_OK) return 6;
    printf("run_duration=%.9f\n", run.duration_s);
    pthread_mutex_lock(&g_mu);
    ct_tracker *t = g_tracker;
    g_tracker = NULL;
    pthread_mutex_unlock(&g_mu);
    ct_tracker_free(t);
    pthread_mutex_lock(&g_mu);
    printf("lines=%d\ncalls=%d\nreentered=%d\nbad_level=%d\nfirst=%s\n", g_lines, calls, g_reentered, g_bad_level,
           g_first);
    pthread_mutex_unlock(&g_mu);
    /* A flush that fails (CT_ERR_IO) and logs why; the callback's own failing call comes after. */
    pthread_mutex_lock(&g_mu);
    g_fail_in_callback = 1;
    pthread_mutex_unlock(&g_mu);
    ct_tracker *bad = NULL;
    /* output_dir is checked at start: remove it after, so that the flush is what fails. */
    char gone[] = "/tmp/nonexistent-ct-dir-XXXXXX";
    if (!mkdtemp(gone)) return 7;
    char options[256];
    snprintf(options, sizeof options, "offline=true;country_iso_code=FRA;output_dir=%s", gone);
    if (ct_tracker_new(options, &bad) != CT_OK) return 7;
    if (ct_tracker_start(bad) != CT_OK) return 8;
    char csv[300];
    snprintf(csv, sizeof csv, "%s/emissions.csv", gone);
    unlink(csv);
    rmdir(gone);
    printf("io_status=%d\n", (int)ct_tracker_flush(bad, NULL));
    printf("io_last_status=%d\n", (int)ct_last_status());
    printf("io_last_error=%s\n", ct_last_error());
    ct_tracker_stop(bad, NULL);
    ct_tracker_free(bad);
    ct_set_logger(NULL, NULL);
    pthread_mutex_lock(&g_mu);
    g_fail_in_callback = 0;
    printf("failed_in_callback=%d\n", g_failed_in_callback);
    pthread_mutex_unlock(&g_mu);
    return 0;
}
