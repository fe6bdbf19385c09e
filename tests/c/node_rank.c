/* One rank of a simulated job on one node (tests/node.rs): a tracker made with the options of
 * argv[1], driven by the steps of argv[4..], each printed as one line on stdout:
 *   rank=R event=EVENT key=value ...
 * Usage: node_rank OPTIONS SYNC_DIR NRANKS STEP...
 * Steps:
 *   start           ct_tracker_start (t= CLOCK_MONOTONIC just before it, t_after= just after, in s)
 *   flush, stop     the totals (t_call= just before the call, t= just after; duration_s is the
 *                   tracker's, from its start to the measurement the call took)
 *   json            counts_node= and gpus= (the UUIDs this rank counts now, from ct_tracker_json)
 *   describe        the whole of ct_tracker_json, on a line of its own: describe R JSON
 *   work:S          S seconds of busy loop; sleep:S: S seconds of sleep
 *   barrier:NAME    waits until every rank reached it (MPI_Barrier when built with -DWITH_MPI,
 *                   else files NAME.<rank> in SYNC_DIR)
 *   signal:NAME     creates SYNC_DIR/NAME; wait:NAME: waits until SYNC_DIR/NAME exists
 *   fork            forks a child that frees its copy of the tracker and exits (as a C++
 *                   global's destructor would); waits for it (10 s at most)
 * The rank (R) is the tracker's, as detected from the launcher's variables. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef WITH_MPI
#include <mpi.h>
#endif

#include "carbon_tracker.h"

static int rank = -1;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void check(enum ct_status s, const char *what) {
    if (s != CT_OK) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, what, ct_last_error());
        exit(2);
    }
}

/* The JSON value after "key": (an array up to its ']', else up to ',' or '}'), quotes removed. */
static void json_field(const char *json, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    size_t i = 0;
    if (p) {
        p += strlen(pat);
        int array = *p == '[';
        if (array) p++;
        while (*p && (array ? *p != ']' : (*p != ',' && *p != '}')) && i + 1 < n) {
            if (*p != '"') out[i++] = *p;
            p++;
        }
    }
    out[i] = 0;
    if (!p) snprintf(out, n, "absent");
}

static void print_totals(const char *event, const ct_emissions *e, double t_call, double t) {
    printf("rank=%d event=%s t_call=%.9f t=%.9f duration_s=%.17g cpu_kwh=%.17g ram_kwh=%.17g gpu_kwh=%.17g "
           "energy_kwh=%.17g\n",
           rank, event, t_call, t, e->duration_s, e->cpu_energy_kwh, e->ram_energy_kwh, e->gpu_energy_kwh,
           e->energy_consumed_kwh);
    fflush(stdout);
}

static void path_of(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void wait_for_file(const char *path) {
    while (access(path, F_OK) != 0) sleep_s(0.002);
}

static void barrier(const char *dir, const char *name, int nranks) {
#ifdef WITH_MPI
    (void)dir;
    (void)name;
    (void)nranks;
    MPI_Barrier(MPI_COMM_WORLD);
#else
    char path[4096], prefix[256];
    snprintf(prefix, sizeof prefix, "%s.", name);
    snprintf(path, sizeof path, "%s/%s%d", dir, prefix, rank);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    for (;;) {
        int count = 0;
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) count++;
        if (d) closedir(d);
        if (count >= nranks) return;
        sleep_s(0.002);
    }
#endif
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: node_rank OPTIONS SYNC_DIR NRANKS STEP...\n");
        return 2;
    }
#ifdef WITH_MPI
    MPI_Init(&argc, &argv);
#endif
    const char *dir = argv[2];
    int nranks = atoi(argv[3]);
    ct_tracker *t = NULL;
    check(ct_tracker_new(argv[1], &t), "ct_tracker_new");
    char *json = ct_tracker_json(t); /* probes the hardware before any clock starts */
    if (!json) check(ct_last_status(), "ct_tracker_json");
    char field[4096];
    json_field(json, "rank", field, sizeof field);
    rank = atoi(field);
    ct_string_free(json);

    for (int i = 4; i < argc; i++) {
        const char *step = argv[i];
        const char *arg = strchr(step, ':') ? strchr(step, ':') + 1 : "";
        char path[4096];
        ct_emissions e;
        memset(&e, 0, sizeof e);
        e.struct_size = sizeof e;
        if (strcmp(step, "start") == 0) {
            double t0 = now_s();
            check(ct_tracker_start(t), "ct_tracker_start");
            printf("rank=%d event=start t=%.9f t_after=%.9f\n", rank, t0, now_s());
            fflush(stdout);
        } else if (strcmp(step, "flush") == 0 || strcmp(step, "stop") == 0) {
            double t0 = now_s();
            check(step[0] == 'f' ? ct_tracker_flush(t, &e) : ct_tracker_stop(t, &e), step);
            print_totals(step, &e, t0, now_s());
        } else if (strcmp(step, "json") == 0) {
            json = ct_tracker_json(t);
            char counts[64], gpus[2048], seen[2048];
            json_field(json, "counts_node_now", counts, sizeof counts);
            json_field(json, "gpus_counted_now", gpus, sizeof gpus);
            /* The UUIDs this rank tracks: each "uuid" of the "gpus" array. */
            seen[0] = 0;
            for (const char *p = strstr(json, "\"gpus\":"); p && (p = strstr(p, "\"uuid\":\""));) {
                p += 8;
                const char *q = strchr(p, '"');
                if (!q) break;
                if (seen[0]) strncat(seen, ",", sizeof seen - strlen(seen) - 1);
                strncat(seen, p,
                        (size_t)(q - p) < sizeof seen - strlen(seen) - 1 ? (size_t)(q - p)
                                                                         : sizeof seen - strlen(seen) - 1);
            }
            printf("rank=%d event=json counts_node=%s gpus=%s seen=%s\n", rank, counts, gpus, seen);
            fflush(stdout);
            ct_string_free(json);
        } else if (strcmp(step, "describe") == 0) {
            json = ct_tracker_json(t);
            if (!json) check(ct_last_status(), "ct_tracker_json");
            printf("describe %d %s\n", rank, json);
            fflush(stdout);
            ct_string_free(json);
        } else if (strncmp(step, "work:", 5) == 0) {
            double end = now_s() + atof(arg);
            volatile unsigned long long x = 1;
            while (now_s() < end)
                for (int k = 0; k < 10000; k++) x = x * 6364136223846793005ULL + 1;
        } else if (strcmp(step, "fork") == 0) {
            fflush(stdout);
            pid_t child = fork();
            if (child == 0) {
                ct_tracker_free(t);
                exit(0);
            }
            int status = -1;
            for (int k = 0; k < 1000 && waitpid(child, &status, WNOHANG) == 0; k++) sleep_s(0.01);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "rank %d: the forked child failed (status %d)\n", rank, status);
                return 3;
            }
        } else if (strncmp(step, "sleep:", 6) == 0) {
            sleep_s(atof(arg));
        } else if (strncmp(step, "barrier:", 8) == 0) {
            barrier(dir, arg, nranks);
        } else if (strncmp(step, "signal:", 7) == 0) {
            path_of(path, sizeof path, dir, arg);
            FILE *f = fopen(path, "w");
            if (f) fclose(f);
        } else if (strncmp(step, "wait:", 5) == 0) {
            path_of(path, sizeof path, dir, arg);
            wait_for_file(path);
        } else {
            fprintf(stderr, "rank %d: unknown step %s\n", rank, step);
            return 2;
        }
    }
    ct_tracker_free(t);
#ifdef WITH_MPI
    MPI_Finalize();
#endif
    return 0;
}
