/* carbon-tracker measured from C, without any interpreter in the way: bench/compare.py runs it
 * next to the Python runs and puts its numbers in their own column.
 *
 *   native lifecycle OUT_DIR     construct, cold/warm start, flushes, stop; task start/stop (2000 tasks)
 *                                (one fresh process)
 *   native idle OUT_DIR|none     CPU per second and RSS of a sleeping program (none: untracked)
 *   native scale N               N trackers started: threads, memory, CPU per second
 *   native floor                 a bare thread waking at 1 Hz to pread /proc/stat (this machine's floor)
 *   native regions THREADS       region begin/end on a running tracker: each call timed alone, medians, in 1
 *                                thread then in THREADS threads at once (one region name shared by all); with
 *                                this machine's floor: two clock reads with nothing between them, and a call
 *                                of a trivial library function (ct_last_status)
 *   native progress              ct_tracker_set_progress per call, next to this machine's floor (a
 *                                clock_gettime and an empty call into the library), and ct_tracker_predict
 *
 * Each mode prints one JSON line. Times in seconds. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "carbon_tracker.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every thread's CPU time, ns-precise (getrusage is tick-sampled). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    if (f) fclose(f);
    return v;
}

static void busy(double seconds) {
    volatile double x = 0;
    double end = now_s() + seconds;
    while (now_s() < end)
        for (int i = 1; i < 10000; i++) x += 1.0 / i;
}

static void check(ct_status s, const char *what) {
    if (s != CT_OK) {
        fprintf(stderr, "%s: %s\n", what, ct_last_error());
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static ct_emissions fresh(void) {
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    return e;
}

static int lifecycle(const char *out_dir) {
    char opts[1024];
    snprintf(opts, sizeof opts, "offline=true;country_iso_code=FRA;measure_power_secs=1;log_level=error;output_dir=%s",
             out_dir);
    ct_tracker *t = NULL;
    ct_emissions e = fresh();
    double a = now_s();
    check(ct_tracker_new(opts, &t), "new");
    double b = now_s();
    check(ct_tracker_start(t), "start");
    double c = now_s();
    busy(2.0);
    double d = now_s();
    check(ct_tracker_flush(t, &e), "flush");
    double f = now_s();
    double later[5];
    for (int i = 0; i < 5; i++) { /* each takes a fresh measurement (> 50 ms apart) */
        sleep_s(0.06);
        double s0 = now_s();
        check(ct_tracker_flush(t, &e), "flush");
        later[i] = now_s() - s0;
    }
    double g = now_s();
    check(ct_tracker_stop(t, &e), "stop");
    double h = now_s();
    ct_tracker_free(t);

    /* A second tracker in the same process: warm construct and start. */
    double construct_warm[200], start_warm[200];
    for (int i = 0; i < 200; i++) {
        ct_tracker *t2 = NULL;
        double s0 = now_s();
        check(ct_tracker_new(opts, &t2), "new");
        double s1 = now_s();
        check(ct_tracker_start(t2), "start");
        double s2 = now_s();
        check(ct_tracker_stop(t2, NULL), "stop");
        ct_tracker_free(t2);
        construct_warm[i] = s1 - s0;
        start_warm[i] = s2 - s1;
    }
    /* Tasks on a running tracker of their own (no CSV: 2000 task rows would weigh on the stop
     * timed above): start_task and stop_task, each timed alone. */
    enum { TASKS = 2000 };
    static double task_start[TASKS], task_stop[TASKS];
    char task_opts[1100];
    snprintf(task_opts, sizeof task_opts, "%s;save_to_file=false", opts);
    ct_tracker *t3 = NULL;
    check(ct_tracker_new(task_opts, &t3), "new");
    check(ct_tracker_start(t3), "start");
    for (int i = 0; i < TASKS; i++) {
        char name[32];
        snprintf(name, sizeof name, "task %d", i);
        ct_emissions te = fresh();
        double s0 = now_s();
        check(ct_tracker_start_task(t3, name), "start_task");
        double s1 = now_s();
        check(ct_tracker_stop_task(t3, name, &te), "stop_task");
        double s2 = now_s();
        task_start[i] = s1 - s0;
        task_stop[i] = s2 - s1;
    }
    check(ct_tracker_stop(t3, NULL), "stop");
    ct_tracker_free(t3);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"construct\": %.9f, \"start_cold\": %.9f, \"flush\": %.9f, \"flush_steady\": %.9f, \"stop\": %.9f, "
           "\"construct_warm\": %.9f, \"start_warm\": %.9f, \"task_start\": %.9f, \"task_stop\": %.9f, \"maxrss_kb\": %ld, \"numbers\": {\"duration\": %.9g, "
           "\"energy\": %.9g, \"emissions\": %.9g, \"cpu_energy\": %.9g, \"ram_energy\": %.9g}}\n",
           b - a, c - b, f - d, median(later, 5), h - g, median(construct_warm, 200), median(start_warm, 200),
           median(task_start, TASKS), median(task_stop, TASKS), ru.ru_maxrss, e.duration_s, e.energy_consumed_kwh, e.emissions_kg, e.cpu_energy_kwh, e.ram_energy_kwh);
    return 0;
}

static int idle(const char *out_dir) {
    ct_tracker *t = NULL;
    if (strcmp(out_dir, "none") != 0) {
        char opts[1024];
        snprintf(opts, sizeof opts,
                 "offline=true;country_iso_code=FRA;measure_power_secs=1;log_level=error;output_dir=%s", out_dir);
        check(ct_tracker_new(opts, &t), "new");
        check(ct_tracker_start(t), "start");
    }
    sleep_s(0.5);
    double a = cpu_s();
    sleep_s(10);
    double b = cpu_s();
    long rss = status_field("VmRSS");
    if (t) {
        check(ct_tracker_stop(t, NULL), "stop");
        ct_tracker_free(t);
    }
    printf("{\"idle_cpu_ms_per_s\": %.6f, \"rss_kb\": %ld}\n", (b - a) * 1000 / 10, rss);
    return 0;
}

static int scale(int n) {
    ct_tracker **ts = calloc(n, sizeof *ts);
    long th0 = status_field("Threads"), rss0 = status_field("VmRSS");
    double a = now_s();
    for (int i = 0; i < n; i++) {
        check(ct_tracker_new("offline=true;country_iso_code=FRA;measure_power_secs=1;save_to_file=false;log_level=error",
                             &ts[i]),
              "new");
        check(ct_tracker_start(ts[i]), "start");
    }
    double started = now_s() - a;
    sleep_s(0.5);
    double c0 = cpu_s();
    sleep_s(5);
    double c1 = cpu_s();
    long th1 = status_field("Threads"), rss1 = status_field("VmRSS");
    for (int i = 0; i < n; i++) {
        check(ct_tracker_stop(ts[i], NULL), "stop");
        ct_tracker_free(ts[i]);
    }
    free(ts);
    printf("{\"n\": %d, \"start_all_s\": %.6f, \"threads_added\": %ld, \"rss_added_kb\": %ld, \"cpu_ms_per_s\": %.6f}\n", n,
           started, th1 - th0, rss1 - rss0, (c1 - c0) * 1000 / 5);
    return 0;
}

/* What this machine charges any 1 Hz sampler: a bare thread that wakes once a second and
 * preads /proc/stat from a descriptor kept open, nothing else, while the main thread sleeps.
 * The floor under the idle figure. */
static void *floor_thread(void *arg) {
    char buf[8192];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < *(int *)arg; i++) {
        sleep_s(1.0);
        if (fd >= 0 && pread(fd, buf, sizeof buf, 0) < 0) break;
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static int floor_cost(void) {
    int ticks = 11;
    pthread_t th;
    if (pthread_create(&th, NULL, floor_thread, &ticks) != 0) return 1;
    sleep_s(0.5);
    double a = cpu_s();
    sleep_s(10);
    double b = cpu_s();
    pthread_join(th, NULL);
    printf("{\"idle_cpu_ms_per_s\": %.6f}\n", (b - a) * 1000 / 10);
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

enum { REGION_CALLS = 200000 };

struct region_run {
    ct_tracker *t;
    const char *name;
    uint64_t *begin_ns, *end_ns; /* REGION_CALLS each */
    pthread_barrier_t *go;
};

/* Times each begin and each end of `name` alone (the work between them is nothing). */
static void *region_loop(void *arg) {
    struct region_run *r = arg;
    if (r->go) pthread_barrier_wait(r->go);
    for (int i = 0; i < REGION_CALLS; i++) {
        uint64_t a = now_ns();
        check(ct_tracker_region_begin(r->t, r->name), "region_begin");
        uint64_t b = now_ns();
        check(ct_tracker_region_end(r->t, r->name), "region_end");
        uint64_t c = now_ns();
        r->begin_ns[i] = b - a;
        r->end_ns[i] = c - b;
    }
    return NULL;
}

static uint64_t median_u64(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

static int regions(int threads) {
    if (threads < 1) threads = 1;
    ct_tracker *t = NULL;
    /* Background measurements every second, as in a real run (each one is a region boundary). */
    check(ct_tracker_new("offline=true;country_iso_code=FRA;measure_power_secs=1;save_to_file=false;log_level=error", &t), "new");
    check(ct_tracker_start(t), "start");
    uint64_t *b = calloc((size_t)REGION_CALLS * threads, sizeof *b), *e = calloc((size_t)REGION_CALLS * threads, sizeof *e);
    uint64_t *floor_clock = calloc(REGION_CALLS, sizeof *floor_clock), *floor_call = calloc(REGION_CALLS, sizeof *floor_call);
    for (int i = 0; i < REGION_CALLS; i++) {
        uint64_t a = now_ns();
        uint64_t c = now_ns();
        (void)ct_last_status();
        uint64_t d = now_ns();
        floor_clock[i] = c - a;
        floor_call[i] = d - c;
    }
    struct region_run one = {t, "solver", b, e, NULL};
    region_loop(&one); /* warm: the name exists */
    region_loop(&one);
    uint64_t begin1 = median_u64(b, REGION_CALLS), end1 = median_u64(e, REGION_CALLS);

    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, threads);
    pthread_t *th = calloc(threads, sizeof *th);
    struct region_run *runs = calloc(threads, sizeof *runs);
    for (int k = 0; k < threads; k++) {
        runs[k] = (struct region_run){t, "solver", b + (size_t)k * REGION_CALLS, e + (size_t)k * REGION_CALLS, &go};
        pthread_create(&th[k], NULL, region_loop, &runs[k]);
    }
    for (int k = 0; k < threads; k++) pthread_join(th[k], NULL);
    uint64_t beginn = median_u64(b, (size_t)REGION_CALLS * threads), endn = median_u64(e, (size_t)REGION_CALLS * threads);
    ct_emissions out = fresh();
    check(ct_tracker_stop(t, &out), "stop");
    char *json = ct_tracker_json(t);
    const char *calls = strstr(json, "\"calls\":");
    printf("{\"threads\": %d, \"region_begin_ns\": %llu, \"region_end_ns\": %llu, \"region_begin_threads_ns\": %llu, "
           "\"region_end_threads_ns\": %llu, \"floor_clock_ns\": %llu, \"floor_call_ns\": %llu, \"calls\": %lld}\n",
           threads, (unsigned long long)begin1, (unsigned long long)end1, (unsigned long long)beginn, (unsigned long long)endn,
           (unsigned long long)median_u64(floor_clock, REGION_CALLS), (unsigned long long)median_u64(floor_call, REGION_CALLS),
           calls ? atoll(calls + 8) : -1LL);
    ct_string_free(json);
    ct_tracker_free(t);
    free(b); free(e); free(floor_clock); free(floor_call); free(th); free(runs);
    pthread_barrier_destroy(&go);
/* Per-call medians of batches of 100 calls, so the timer's own cost is spread over the batch. */
enum { BATCHES = 2000, PER_BATCH = 100 };

static void *noop_target(void *p) { return p; }
static void *(*volatile noop)(void *) = noop_target; /* an empty call the compiler cannot remove */

static int progress_cost(void) {
    ct_tracker *t = NULL;
    check(ct_tracker_new("offline=true;country_iso_code=FRA;measure_power_secs=1;save_to_file=false;log_level=error", &t),
          "new");
    check(ct_tracker_start(t), "start");
    static double per_call[BATCHES], floor_clock[BATCHES], floor_call[BATCHES];
    double total = (double)BATCHES * PER_BATCH;
    for (int b = 0; b < BATCHES; b++) { /* interleaved, so drift hits all three alike */
        double s0 = now_s();
        for (int i = 0; i < PER_BATCH; i++) check(ct_tracker_set_progress(t, (double)b * PER_BATCH + i, total), "set_progress");
        double s1 = now_s();
        for (int i = 0; i < PER_BATCH; i++) (void)now_s();
        double s2 = now_s();
        for (int i = 0; i < PER_BATCH; i++) noop(&i);
        double s3 = now_s();
        per_call[b] = (s1 - s0) / PER_BATCH;
        floor_clock[b] = (s2 - s1) / PER_BATCH;
        floor_call[b] = (s3 - s2) / PER_BATCH;
    }
    /* predict on this run (2000 reports kept): each call within 50 ms of the previous
     * measurement reuses it, so this is the prediction itself. */
    static double predict[200];
    ct_prediction p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    sleep_s(0.06);
    check(ct_tracker_predict(t, &p), "predict"); /* measures (the last measurement is > 50 ms old) */
    for (int i = 0; i < 200; i++) {
        double s0 = now_s();
        check(ct_tracker_predict(t, &p), "predict");
        predict[i] = now_s() - s0;
    }
    check(ct_tracker_stop(t, NULL), "stop");
    ct_tracker_free(t);
    printf("{\"set_progress\": %.12f, \"floor_clock\": %.12f, \"floor_call\": %.12f, \"predict\": %.9f, \"ready\": %d}\n",
           median(per_call, BATCHES), median(floor_clock, BATCHES), median(floor_call, BATCHES), median(predict, 200),
           p.state == CT_PREDICTION_READY);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "lifecycle") == 0) return lifecycle(argv[2]);
    if (argc == 3 && strcmp(argv[1], "idle") == 0) return idle(argv[2]);
    if (argc == 3 && strcmp(argv[1], "scale") == 0) return scale(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "floor") == 0) return floor_cost();
    if (argc == 3 && strcmp(argv[1], "regions") == 0) return regions(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "progress") == 0) return progress_cost();
    fprintf(stderr, "usage: %s lifecycle OUT_DIR | idle OUT_DIR|none | scale N | floor | regions THREADS | progress\n", argv[0]);
    return 2;
}
