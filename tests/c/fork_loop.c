/* Forks at any moment of the library's work (built and run by tests/c_abi.rs). While two
 * trackers tick every 10 ms (the shortest period) and a second thread keeps making first starts (each with options that
 * make it probe the hardware anew, write a CSV, look its location up and log through a callback), the main thread forks
 * in a loop; each child starts, flushes and stops a tracker of its own (which probes, writes, looks up and logs too)
 * under alarm(2): a lock inherited held would hang it. usage: fork_loop OUTPUT_DIR FORKS   (prints key=value lines) */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carbon_tracker.h"

static const char *g_dir;
static atomic_int g_stop = 0, g_starts = 0, g_lines = 0;

static void on_log(void *user_data, ct_log_level level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
    atomic_fetch_add(&g_lines, 1);
}

/* A tracker whose start probes the hardware (a new force_ram_power: a new probe key), looks its
 * location up (a new geo URL on a closed loopback port: a new lookup, refused at once) and
 * writes a CSV. */
static ct_tracker *busy_tracker(const char *tag, int i) {
    char opts[1024];
    snprintf(opts, sizeof opts,
             "force_ram_power=%d.%d;geo_api_url=http://127.0.0.1:9/geo/%s/%d;geo_backup_api_url=http://127.0.0.1:9/b;"
             "cloud_detection=false;output_dir=%s;project_name=%s;log_level=debug;measure_power_secs=0.01",
             1 + i % 50, i, tag, i, g_dir, tag);
    ct_tracker *t = NULL;
    if (ct_tracker_new(opts, &t) != CT_OK) {
        fprintf(stderr, "%s: ct_tracker_new: %s\n", tag, ct_last_error());
        return NULL;
    }
    return t;
}

static void *first_starts(void *arg) {
    (void)arg;
    for (int i = 0; !atomic_load(&g_stop); i++) {
        ct_tracker *t = busy_tracker("thread", i);
        if (!t) return NULL;
        ct_tracker_start(t);
        ct_tracker_flush(t, NULL);
        char *json = ct_tracker_json(t);
        ct_string_free(json);
        ct_tracker_stop(t, NULL);
        ct_tracker_free(t);
        atomic_fetch_add(&g_starts, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    g_dir = argv[1];
    int forks = atoi(argv[2]);
    ct_set_logger(on_log, NULL);
    ct_tracker *ticking = NULL;
    if (ct_tracker_new("offline=true;country_iso_code=FRA;save_to_file=false;measure_power_secs=0.01;log_level=debug",
                       &ticking) != CT_OK ||
        ct_tracker_start(ticking) != CT_OK) {
        fprintf(stderr, "ticking tracker: %s\n", ct_last_error());
        return 3;
    }
    ct_tracker *ticking2 = NULL; /* its ticks fall between the first one's */
    ct_tracker_new("offline=true;country_iso_code=FRA;save_to_file=false;measure_power_secs=0.01", &ticking2);
    usleep(5000);
    ct_tracker_start(ticking2);
    pthread_t th;
    pthread_create(&th, NULL, first_starts, NULL);
    int hung = 0, failed = 0;
    for (int i = 0; i < forks; i++) {
        usleep((useconds_t)(i * 37 % 1500)); /* land anywhere in the other threads' work */
        pid_t pid = fork();
        if (pid == 0) {
            alarm(2);
            ct_tracker *t = busy_tracker("child", i);
            ct_emissions e;
            memset(&e, 0, sizeof e);
            e.struct_size = sizeof e;
            int ok = t && ct_tracker_start(t) == CT_OK && ct_tracker_flush(t, NULL) == CT_OK &&
                     ct_tracker_stop(t, &e) == CT_OK && e.duration_s > 0;
            ct_tracker_free(t);
            _exit(ok ? 0 : 3);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            hung++;
            fprintf(stderr, "fork %d: child killed by signal %d\n", i, WTERMSIG(status));
        } else if (WEXITSTATUS(status) != 0) {
            failed++;
            fprintf(stderr, "fork %d: child exited with %d\n", i, WEXITSTATUS(status));
        }
    }
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    ct_status s = ct_tracker_stop(ticking, &e);
    ct_tracker_free(ticking);
    ct_tracker_free(ticking2);
    ct_set_logger(NULL, NULL);
    printf("forks=%d\nhung=%d\nfailed=%d\nstarts=%d\nticks=%llu\nstop=%d\nlines=%d\n", forks, hung, failed,
           atomic_load(&g_starts), (unsigned long long)e.measurements, (int)s, atomic_load(&g_lines));
    return 0;
}
