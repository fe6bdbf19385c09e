/* A disk that fills in the middle of a write (built and run by tests/c_abi.rs). The real
 * mechanism of a short write: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) lets the kernel
 * write the bytes below the limit and fail the rest with EFBIG, as a full disk does with ENOSPC.
 * Each failing flush must return CT_ERR_IO, leave every file exactly as it was and lose nothing:
 * once the limit is raised again, the next flush writes the totals.
 *   usage: full_disk OUTPUT_DIR   (prints key=value lines; the Rust side checks the CSVs) */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "carbon_tracker.h"

static rlim_t g_hard;

static void limit_file_size(rlim_t bytes) {
    struct rlimit r = {bytes, g_hard};
    if (setrlimit(RLIMIT_FSIZE, &r) != 0) {
        perror("setrlimit");
        exit(2);
    }
}

static void no_limit(void) { limit_file_size(g_hard); }

/* The whole file (NULL if absent), its length in *len. */
static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    *len = -1;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*len + 1);
    if (fread(buf, 1, (size_t)*len, f) != (size_t)*len) *len = -2;
    fclose(f);
    return buf;
}

static int same(const char *a, long alen, const char *b, long blen) {
    return alen == blen && (alen <= 0 || memcmp(a, b, (size_t)alen) == 0);
}

/* A ct_emissions ready to be filled (the other fields zero). */
#define FRESH ((ct_emissions){.struct_size = sizeof(ct_emissions)})

/* Names in `dir` other than the ones expected: temporary or backup files left behind. */
static int strays(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        if (strstr(ent->d_name, "tmp") || strstr(ent->d_name, ".bak")) {
            printf("stray=%s/%s\n", dir, ent->d_name);
            n++;
        }
    }
    if (d) closedir(d);
    return n;
}

static ct_tracker *tracker(const char *dir, const char *mode) {
    char opts[1024];
    snprintf(opts, sizeof opts,
             "offline=true;country_iso_code=FRA;force_ram_power=10;measure_power_secs=3600;log_level=critical;"
             "experiment_name=fill;output_dir=%s;on_csv_write=%s",
             dir, mode);
    ct_tracker *t = NULL;
    if (ct_tracker_new(opts, &t) != CT_OK) {
        fprintf(stderr, "ct_tracker_new: %s\n", ct_last_error());
        exit(2);
    }
    return t;
}

/* A new directory `root/name` for one case, with the path of its emissions.csv in `csv`. */
static void case_dir(const char *root, const char *name, char *dir, size_t dir_size, char *csv, size_t csv_size) {
    snprintf(dir, dir_size, "%s/%s", root, name);
    mkdir(dir, 0755);
    snprintf(csv, csv_size, "%s/emissions.csv", dir);
}

/* A row cut in the middle: in `append` mode the limit falls 50 bytes into the next row; in
 * `update` mode (a rewrite through a temporary file) 50 bytes before the end of the file. */
static void torn_row(const char *root, const char *mode) {
    char dir[512], csv[600];
    case_dir(root, mode, dir, sizeof dir, csv, sizeof csv);
    ct_tracker *t = tracker(dir, mode);
    ct_tracker_start(t);
    ct_emissions e = FRESH;
    printf("%s.first_flush=%d\n", mode, (int)ct_tracker_flush(t, &e));
    long blen;
    char *before = slurp(csv, &blen);
    limit_file_size((rlim_t)(strcmp(mode, "append") == 0 ? blen + 50 : blen - 50));
    ct_status s = ct_tracker_flush(t, &e);
    long alen;
    char *after = slurp(csv, &alen);
    printf("%s.full_flush=%d\n", mode, (int)s);
    printf("%s.full_flush_filled=%d\n", mode, e.duration_s > 0);
    printf("%s.unchanged=%d\n", mode, same(before, blen, after, alen));
    printf("%s.grew_by=%ld\n", mode, alen - blen);
    no_limit();
    e = FRESH;
    printf("%s.next_flush=%d\n", mode, (int)ct_tracker_flush(t, &e));
    e = FRESH;
    printf("%s.stop=%d\n", mode, (int)ct_tracker_stop(t, &e));
    printf("%s.stop_emissions_kg=%.17g\n", mode, e.emissions_kg);
    printf("%s.strays=%d\n", mode, strays(dir));
    ct_tracker_free(t);
    free(before);
    free(after);
}

/* The header written at start cut short (the limit below its length), in a fresh directory. */
static void torn_header(const char *root, const char *mode) {
    char dir[512], csv[600], name[64];
    snprintf(name, sizeof name, "header-%s", mode);
    case_dir(root, name, dir, sizeof dir, csv, sizeof csv);
    ct_tracker *t = tracker(dir, mode);
    limit_file_size(100);
    /* The header is written at start: a start that cannot write it fails and leaves the tracker
       startable. */
    printf("header-%s.full_start=%d\n", mode, (int)ct_tracker_start(t));
    long len;
    free(slurp(csv, &len));
    printf("header-%s.length_while_full=%ld\n", mode, len);
    no_limit();
    printf("header-%s.next_start=%d\n", mode, (int)ct_tracker_start(t));
    ct_emissions e = FRESH;
    printf("header-%s.stop=%d\n", mode, (int)ct_tracker_stop(t, &e));
    printf("header-%s.stop_emissions_kg=%.17g\n", mode, e.emissions_kg);
    printf("header-%s.strays=%d\n", mode, strays(dir));
    ct_tracker_free(t);
}

/* The task file: its rows are kept while it cannot be written, and written at the next flush. */
static void task_file(const char *root) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tasks", root);
    mkdir(dir, 0755);
    ct_tracker *t = tracker(dir, "append");
    ct_tracker_start_task(t, "first");
    ct_emissions e = FRESH;
    ct_tracker_stop_task(t, "first", &e);
    e = FRESH;
    printf("tasks.first_flush=%d\n", (int)ct_tracker_flush(t, &e));
    ct_tracker_start_task(t, "second");
    e = FRESH;
    ct_tracker_stop_task(t, "second", &e);
    char path[1024];
    DIR *d = opendir(dir);
    struct dirent *ent;
    path[0] = '\0';
    while (d && (ent = readdir(d)))
        if (strncmp(ent->d_name, "emissions_fill_", 15) == 0) snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    if (d) closedir(d);
    long blen, alen;
    char *before = slurp(path, &blen);
    limit_file_size((rlim_t)blen + 50); /* the rewritten file has one more row */
    e = FRESH;
    printf("tasks.full_flush=%d\n", (int)ct_tracker_flush(t, &e));
    char *after = slurp(path, &alen);
    printf("tasks.unchanged=%d\n", same(before, blen, after, alen));
    no_limit();
    e = FRESH;
    printf("tasks.stop=%d\n", (int)ct_tracker_stop(t, &e));
    printf("tasks.strays=%d\n", strays(dir));
    printf("tasks.file=%s\n", path);
    ct_tracker_free(t);
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    signal(SIGXFSZ, SIG_IGN); /* the write then fails with EFBIG instead of killing us */
    struct rlimit r;
    getrlimit(RLIMIT_FSIZE, &r);
    g_hard = r.rlim_max;
    torn_row(argv[1], "append");
    torn_row(argv[1], "update");
    torn_header(argv[1], "append");
    torn_header(argv[1], "update");
    task_file(argv[1]);
    return 0;
}
