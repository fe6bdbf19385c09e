/* One rank of an MPI job (built with mpicc and run with mpirun by tests/cluster.rs):
 *   every rank tracks about 2 s of busy work with the options of argv[1];
 *   rank 0 also runs a reference tracker that is no part of the job's coordination
 *   (job_count_node_once=false), started before and stopped after every rank's tracker (a
 *   barrier between: the ranks' windows lie inside its own), so it measures the whole machine
 *   over the whole job and a little more (tests/cluster.rs allows for that time).
 * Each rank prints one line `rank=R key=value ...` with its totals and its job description;
 * rank 0 prints `reference ...` at the end. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
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

static int check(enum ct_status s, const char *what) {
    if (s != CT_OK) {
        fprintf(stderr, "%s: %s\n", what, ct_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return 0;
}

/* The value of "key": in a flat part of a JSON text, as text (enough for numbers and null). */
static void json_field(const char *json, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p) {
        snprintf(out, n, "absent");
        return;
    }
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != ',' && *p != '}' && i + 1 < n) out[i++] = *p++;
    out[i] = 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: mpi_ranks OPTIONS REFERENCE_OPTIONS [WORK_S]\n");
        return 2;
    }
    double work_s = argc > 3 ? atof(argv[3]) : 2.0;
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);

    ct_tracker *t = NULL, *ref = NULL;
    check(ct_tracker_new(argv[1], &t), "ct_tracker_new");
    char *json = ct_tracker_json(t); /* probes the hardware before the clock starts */
    ct_string_free(json);
    if (rank == 0) check(ct_tracker_new(argv[2], &ref), "ct_tracker_new (reference)");
    if (rank == 0) check(ct_tracker_start(ref), "ct_tracker_start (reference)");
    MPI_Barrier(MPI_COMM_WORLD); /* the reference runs before any rank's tracker starts */
    check(ct_tracker_start(t), "ct_tracker_start");

    double end = now_s() + work_s;
    volatile unsigned long long x = 1;
    while (now_s() < end) {
        for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ULL + 1;
    }

    MPI_Barrier(MPI_COMM_WORLD); /* every rank running: the roles are settled */
    json = ct_tracker_json(t);
    char job_id[160], local_rank[32], counts[32], jrank[32];
    json_field(json, "job_id", job_id, sizeof job_id);
    json_field(json, "rank", jrank, sizeof jrank);
    json_field(json, "local_rank", local_rank, sizeof local_rank);
    json_field(json, "counts_node_now", counts, sizeof counts);
    ct_string_free(json);
    MPI_Barrier(MPI_COMM_WORLD);

    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    check(ct_tracker_stop(t, &e), "ct_tracker_stop");
    ct_tracker_free(t);
    MPI_Barrier(MPI_COMM_WORLD); /* every rank's tracker stopped before the reference stops */
    ct_emissions r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    if (rank == 0) check(ct_tracker_stop(ref, &r), "ct_tracker_stop (reference)");
    printf("rank=%d job_rank=%s local_rank=%s job_id=%s counts_node=%s duration_s=%.17g cpu_kwh=%.17g ram_kwh=%.17g "
           "gpu_kwh=%.17g energy_kwh=%.17g emissions_kg=%.17g\n",
           rank, jrank, local_rank, job_id, counts, e.duration_s, e.cpu_energy_kwh, e.ram_energy_kwh, e.gpu_energy_kwh,
           e.energy_consumed_kwh, e.emissions_kg);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        printf("reference duration_s=%.17g cpu_kwh=%.17g ram_kwh=%.17g energy_kwh=%.17g\n", r.duration_s,
               r.cpu_energy_kwh, r.ram_energy_kwh, r.energy_consumed_kwh);
        fflush(stdout);
        ct_tracker_free(ref);
    }
    MPI_Finalize();
    return 0;
}
