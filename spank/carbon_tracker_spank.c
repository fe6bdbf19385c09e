/*
 * carbon-tracker's SPANK plugin: the energy and carbon of every Slurm job step on every node,
 * without touching the program. docs/slurm-plugin.md says how to build and enable it, and why
 * each part runs where it runs:
 *
 *  - slurmstepd (remote context), one per step and node: a tracker in machine mode starts at
 *    the first task's fork (slurm_spank_task_post_fork: root again, after slurmstepd's
 *    temporary privilege drop) and stops in slurm_spank_exit, after the step's last task. The
 *    steps of a job on a node join one coordination (job_id = the job, not the step), so the
 *    node is counted once across the job's steps and tasks. At stop it writes one row (a small
 *    JSON file) per node and step into <output_dir>/job-<id>/, beside the library's own CSV and
 *    run files.
 *  - the job epilog (slurm_spank_job_epilog, as root in slurmd's epilog): sums the job's rows
 *    it can see and sets the job's AdminComment to one JSON object with `scontrol update`
 *    (bounded by a timeout), so `sacct -o AdminComment` shows it.
 *  - srun/sbatch/salloc (local and allocator context): only the option --carbon-tracker.
 *
 * Nothing here fails or holds a job: every error is logged and the plugin gives up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

#include "carbon_tracker.h"

SPANK_PLUGIN(carbon_tracker, 1);

#define OPT_MAX 4096
#define PATH_MAX_CT 1024

/* Plugin settings: the plugstack.conf arguments that are not library options. */
static char output_base[PATH_MAX_CT] = "/var/lib/carbon-tracker/slurm";
static char coordination_dir[PATH_MAX_CT] = "/dev/shm/carbon-tracker-slurm";
static char scontrol_path[PATH_MAX_CT] = "scontrol";
static char sacctmgr_path[PATH_MAX_CT] = "sacctmgr";
static int admin_comment = 1;
static int cmd_timeout_s = 5;
/* The library options from plugstack.conf, `;`-separated. */
static char admin_options[OPT_MAX] = "";
/* --carbon-tracker: "" (not given), "off", or the user's options. */
static char user_value[OPT_MAX] = "";

/* The step's tracker (slurmstepd only) and what its row needs. */
static ct_tracker *tracker = NULL;
static double started_unix_s = 0.0;
static uint32_t job_id = 0, step_id = 0, node_index = 0;
static char node_name[256] = "";

/* Options a user may give per job: none of them names a path root writes to or changes what is
 * measured (tracking mode, identity of the job, forced powers stay the administrator's). */
static const char *const user_keys[] = {
    "project_name", "experiment_id", "country_iso_code", "country_name", "region", "pue", "wue",
    "measure_power_secs", "log_level", "cloud_provider", "cloud_region", NULL,
};

static int opt_cb(int val, const char *optarg, int remote);

/* Registered by slurm_spank_init in every context: sbatch and salloc see no spank_options table. */
static struct spank_option option = {
    "carbon-tracker", "off|key=value;...",
    "carbon-tracker: `off` to measure nothing for this job, or options for it (project_name, country_iso_code, "
    "region, pue, ...; see docs/slurm-plugin.md)",
    2, 0, opt_cb,
};

static double now_unix_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src);
}

/* Appends `key=value` (or a whole `a=b;c=d` list) to `buf`, `;`-separated; 0 when it does not fit. */
static int append_opt(char *buf, size_t n, const char *text) {
    size_t used = strlen(buf);
    int w = snprintf(buf + used, n - used, "%s%s", used ? ";" : "", text);
    return w >= 0 && (size_t)w < n - used;
}

/* Checks the user's --carbon-tracker value: `off`, or `key=value` pairs of allowed keys. */
static int check_user_value(const char *v, char *why, size_t n) {
    if (!strcmp(v, "off") || !*v)
        return 1;
    char tmp[OPT_MAX];
    if (strlen(v) >= sizeof tmp) {
        snprintf(why, n, "--carbon-tracker: the options are longer than %zu characters", sizeof tmp - 1);
        return 0;
    }
    copy(tmp, sizeof tmp, v);
    char *save = NULL;
    for (char *pair = strtok_r(tmp, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq) {
            snprintf(why, n, "--carbon-tracker: `%s` is not `off` nor key=value", pair);
            return 0;
        }
        *eq = '\0';
        int ok = 0;
        for (const char *const *k = user_keys; *k; k++)
            ok |= !strcmp(*k, pair);
        if (!ok) {
            snprintf(why, n,
                     "--carbon-tracker: `%s` cannot be set per job (allowed: project_name, experiment_id, "
                     "country_iso_code, country_name, region, pue, wue, measure_power_secs, log_level, cloud_provider, "
                     "cloud_region; or `off`)",
                     pair);
            return 0;
        }
    }
    return 1;
}

static int opt_cb(int val, const char *optarg, int remote) {
    (void)val;
    char why[512];
    const char *v = optarg ? optarg : "";
    if (!check_user_value(v, why, sizeof why)) {
        if (remote) {
            /* Never fail a step: measure with the administrator's options alone. */
            slurm_error("carbon-tracker: %s; measuring with the site's options", why);
            user_value[0] = '\0';
            return ESPANK_SUCCESS;
        }
        slurm_error("%s", why);
        return ESPANK_BAD_ARG; /* srun/sbatch: the user sees the mistake before the job runs */
    }
    copy(user_value, sizeof user_value, v);
    return ESPANK_SUCCESS;
}

/* plugstack.conf arguments: plugin settings, and library options (anything else with `=`). */
static void parse_args(int ac, char **av) {
    admin_options[0] = '\0';
    for (int i = 0; i < ac; i++) {
        const char *a = av[i];
        if (!strncmp(a, "output_dir=", 11))
            copy(output_base, sizeof output_base, a + 11);
        else if (!strncmp(a, "coordination_dir=", 17))
            copy(coordination_dir, sizeof coordination_dir, a + 17);
        else if (!strncmp(a, "scontrol=", 9))
            copy(scontrol_path, sizeof scontrol_path, a + 9);
        else if (!strncmp(a, "admin_comment=", 14))
            admin_comment = strcmp(a + 14, "no") && strcmp(a + 14, "false") && strcmp(a + 14, "0");
        else if (!strncmp(a, "sacctmgr=", 9))
            copy(sacctmgr_path, sizeof sacctmgr_path, a + 9);
        else if (!strncmp(a, "command_timeout_s=", 18))
            cmd_timeout_s = atoi(a + 18) > 0 ? atoi(a + 18) : 5;
        else if (strchr(a, '=')) {
            if (!append_opt(admin_options, sizeof admin_options, a))
                slurm_error("carbon-tracker: plugstack.conf options longer than %zu characters; `%s` ignored",
                            sizeof admin_options - 1, a);
        } else
            slurm_error("carbon-tracker: plugstack.conf argument `%s` is not key=value; ignored", a);
    }
}

int slurm_spank_init(spank_t sp, int ac, char **av) {
    parse_args(ac, av);
    if (spank_option_register(sp, &option) != ESPANK_SUCCESS)
        slurm_error("carbon-tracker: cannot register --carbon-tracker; jobs are measured with the site's options");
    return ESPANK_SUCCESS;
}

/* Library log lines into slurmd/slurmstepd's log. */
static void log_cb(void *ud, enum ct_log_level level, const char *msg) {
    (void)ud;
    if (level >= CT_LOG_ERROR)
        slurm_error("carbon-tracker: %s", msg);
    else if (level >= CT_LOG_WARNING)
        slurm_info("carbon-tracker: warning: %s", msg);
    else
        slurm_verbose("carbon-tracker: %s", msg);
}

static int mkdir_p(const char *path, mode_t mode) {
    char tmp[PATH_MAX_CT];
    copy(tmp, sizeof tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) && errno != EEXIST)
        return -1;
    return 0;
}

static void step_text(uint32_t step, char *buf, size_t n) {
    if (step == SLURM_BATCH_SCRIPT)
        snprintf(buf, n, "batch");
    else if (step == SLURM_INTERACTIVE_STEP)
        snprintf(buf, n, "interactive");
    else
        snprintf(buf, n, "%u", step);
}

/* The GPUs Slurm gave the step, as the library's gpu_ids option (none: the library's default). */
static void gpu_option(spank_t sp, char *opts, size_t n) {
    static const char *const vars[] = {"CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS", NULL};
    char buf[512];
    for (const char *const *v = vars; *v; v++) {
        if (spank_getenv(sp, *v, buf, sizeof buf) == ESPANK_SUCCESS && buf[0]) {
            char pair[600];
            snprintf(pair, sizeof pair, "gpu_ids=%s", buf);
            append_opt(opts, n, pair);
            return;
        }
    }
}

/* Starts the step's tracker: at the first task's fork, in slurmstepd, as root. */
static void start_tracker(spank_t sp) {
    char step[32], dir[PATH_MAX_CT], opts[OPT_MAX * 2 + 1024] = "", pair[PATH_MAX_CT + 64];
    if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS) {
        slurm_error("carbon-tracker: no job or step id; this step is not measured");
        return;
    }
    if (step_id == SLURM_EXTERN_CONT)
        return; /* the extern step only holds the allocation; the job's own steps are measured */
    spank_get_item(sp, S_JOB_NODEID, &node_index);
    /* The host name, as in the library's run files (a batch step's environment has no SLURMD_NODENAME
     * yet when its tasks start); a file name, so no `/`. */
    gethostname(node_name, sizeof node_name - 1);
    for (char *c = node_name; *c; c++)
        if (*c == '/')
            *c = '_';
    step_text(step_id, step, sizeof step);
    snprintf(dir, sizeof dir, "%s/job-%u", output_base, job_id);
    if (mkdir_p(dir, 0755) || mkdir_p(coordination_dir, 0700)) {
        slurm_error("carbon-tracker: cannot create %s or %s (%s); job %u step %s is not measured", dir,
                    coordination_dir, strerror(errno), job_id, step);
        return;
    }
    ct_set_logger(log_cb, NULL);
    ct_tracker *t = NULL;
    /* With the user's options first; a value the library refuses there: the site's options alone. */
    for (int with_user = user_value[0] ? 1 : 0; with_user >= 0 && !t; with_user--) {
        opts[0] = '\0';
        append_opt(opts, sizeof opts, admin_options);
        if (with_user)
            append_opt(opts, sizeof opts, user_value);
        gpu_option(sp, opts, sizeof opts);
        /* Last, so that nothing above changes them: machine mode, the job's steps counted once. */
        snprintf(pair, sizeof pair,
                 "tracking_mode=machine;job_id=%u;rank=%u;job_count_node_once=true;experiment_name=step-%s;"
                 "output_file=emissions-%s.csv",
                 job_id, node_index, step, node_name);
        append_opt(opts, sizeof opts, pair);
        snprintf(pair, sizeof pair, "output_dir=%s;job_coordination_dir=%s", dir, coordination_dir);
        if (!append_opt(opts, sizeof opts, pair)) {
            slurm_error("carbon-tracker: options too long; job %u step %s is not measured", job_id, step);
            return;
        }
        if (ct_tracker_new(opts, &t) != CT_OK) {
            t = NULL;
            slurm_error("carbon-tracker: job %u step %s%s: %s", job_id, step,
                        with_user ? ", --carbon-tracker options refused, measured with the site's options"
                                  : " is not measured",
                        ct_last_error());
        }
    }
    if (!t)
        return;
    if (ct_tracker_start(t) != CT_OK) {
        slurm_error("carbon-tracker: job %u step %s is not measured: %s", job_id, step, ct_last_error());
        ct_tracker_discard(t);
        return;
    }
    tracker = t;
    started_unix_s = now_unix_s();
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av) {
    (void)ac;
    (void)av;
    static int tried = 0;
    if (!spank_remote(sp) || tried || !strcmp(user_value, "off"))
        return ESPANK_SUCCESS;
    tried = 1;
    start_tracker(sp);
    return ESPANK_SUCCESS;
}

/* Writes `text` to `path` whole (a temporary file renamed, so a reader never sees half a row). */
static int write_file(const char *path, const char *text) {
    char tmp[PATH_MAX_CT + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int bad = w < 0 || (size_t)w != len || close(fd);
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The step's row: one line of JSON, fields in a fixed order (read back by the epilog). */
#define ROW_FMT                                                                                                        \
    "{\"job_id\":\"%u\",\"step\":\"%[^\"]\",\"node\":\"%[^\"]\",\"node_index\":%u,\"source\":\"slurm-plugin\","     \
    "\"started_unix_s\":%lf,\"duration_s\":%lf,\"energy_consumed_kwh\":%lf,\"cpu_energy_kwh\":%lf,"                   \
    "\"gpu_energy_kwh\":%lf,\"ram_energy_kwh\":%lf,\"emissions_kg\":%lf,\"carbon_intensity_g_per_kwh\":%lf}"

/* The job's totals over the rows in its directory. */
struct totals {
    double energy_kwh, emissions_kg, start, end;
    int rows, nodes;
    char node_names[16][256];
};

static void add_row(struct totals *t, const char *line) {
    unsigned jid, nidx;
    char step[64], node[256];
    double started, dur, energy, cpu, gpu, ram, emis, intensity;
    if (sscanf(line, ROW_FMT, &jid, step, node, &nidx, &started, &dur, &energy, &cpu, &gpu, &ram, &emis,
               &intensity) != 12)
        return;
    t->energy_kwh += energy;
    t->emissions_kg += emis;
    if (!t->rows || started < t->start)
        t->start = started;
    if (!t->rows || started + dur > t->end)
        t->end = started + dur;
    t->rows++;
    int seen = 0;
    for (int i = 0; i < t->nodes && i < 16; i++)
        seen |= !strcmp(t->node_names[i], node);
    if (!seen) {
        if (t->nodes < 16)
            copy(t->node_names[t->nodes], sizeof t->node_names[0], node);
        t->nodes++;
    }
}

static int read_rows(const char *dir, struct totals *t) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (strncmp(de->d_name, "step-", 5) || n < 6 || strcmp(de->d_name + n - 5, ".json"))
            continue;
        char path[PATH_MAX_CT + 512], line[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f))
            add_row(t, line);
        fclose(f);
    }
    closedir(d);
    return 0;
}

/* Runs argv[0] with a timeout of cmd_timeout_s; its exit status, or -1 (no start, or killed). */
static int run_cmd(char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    for (int i = 0; i < cmd_timeout_s * 20; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* The job's AdminComment: `scontrol update` while the job runs (the batch step's end), then
 * `sacctmgr modify job` in the epilog, when the job has finished: slurmctld refuses to update a
 * finished job ("Job has already finished"); the accounting database takes AdminComment after
 * the job's end. */
static void set_admin_comment(uint32_t jid, const char *json, int finished) {
    char id_arg[64], comment_arg[1024];
    int rc;
    snprintf(comment_arg, sizeof comment_arg, "AdminComment=%s", json);
    if (!finished) {
        snprintf(id_arg, sizeof id_arg, "JobId=%u", jid);
        char *argv[] = {scontrol_path, "update", id_arg, comment_arg, NULL};
        rc = run_cmd(argv);
    } else {
        snprintf(id_arg, sizeof id_arg, "jobid=%u", jid);
        char *argv[] = {sacctmgr_path, "-i", "modify", "job", "where", id_arg, "set", comment_arg, NULL};
        rc = run_cmd(argv);
    }
    if (rc == 0)
        slurm_info("carbon-tracker: job %u: AdminComment=%s", jid, json);
    else
        slurm_error("carbon-tracker: job %u: %s could not set AdminComment (%s %d)", jid,
                    finished ? sacctmgr_path : scontrol_path, rc < 0 ? "no answer in time or killed, " : "status",
                    rc < 0 ? cmd_timeout_s : rc);
}

/* Removes the job's coordination files on this node (the steps have all ended): the library keeps
 * them in its private per-user directory, <coordination_dir>/carbon-tracker-<uid>/, named
 * carbon-tracker-<job>-<host>-uid<uid>.* */
static void remove_coordination(uint32_t jid) {
    char private_dir[PATH_MAX_CT];
    if (snprintf(private_dir, sizeof private_dir, "%s/carbon-tracker-%u", coordination_dir, (unsigned)getuid()) >=
        (int)sizeof private_dir)
        return;
    DIR *d = opendir(private_dir);
    if (!d)
        return;
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "carbon-tracker-%u-", jid);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, prefix, (size_t)n))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* The job's totals over the rows in <output_dir>/job-<id>/ as AdminComment's JSON, also written to
 * job.json there; 0 when there is at least one row. */
static int job_totals(uint32_t jid, char *json, size_t n) {
    char dir[PATH_MAX_CT], path[PATH_MAX_CT + 32], line[800];
    snprintf(dir, sizeof dir, "%s/job-%u", output_base, jid);
    struct totals t;
    memset(&t, 0, sizeof t);
    if (read_rows(dir, &t) || !t.rows)
        return -1; /* not measured (off, or nothing could be written) */
    double duration = t.end - t.start, intensity = t.energy_kwh > 0 ? t.emissions_kg * 1000.0 / t.energy_kwh : 0.0;
    snprintf(json, n,
             "{\"carbon_tracker\":{\"energy_kwh\":%.6g,\"emissions_kg_co2e\":%.6g,\"intensity_g_per_kwh\":%.4g,"
             "\"duration_s\":%.1f,\"nodes\":%d,\"rows\":%d}}",
             t.energy_kwh, t.emissions_kg, intensity, duration, t.nodes, t.rows);
    snprintf(path, sizeof path, "%s/job.json", dir);
    snprintf(line, sizeof line, "%s\n", json);
    if (write_file(path, line))
        slurm_error("carbon-tracker: cannot write %s: %s", path, strerror(errno));
    return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av) {
    uint32_t jid = 0;
    if (spank_get_item(sp, S_JOB_ID, &jid) != ESPANK_SUCCESS) {
        const char *e = getenv("SLURM_JOB_ID");
        jid = e ? (uint32_t)strtoul(e, NULL, 10) : 0;
    }
    if (!jid)
        return ESPANK_SUCCESS;
    parse_args(ac, av); /* slurm_spank_init does not run in the epilog's context */
    remove_coordination(jid);
    char json[768];
    if (!job_totals(jid, json, sizeof json) && admin_comment)
        set_admin_comment(jid, json, 1);
    return ESPANK_SUCCESS;
}

int slurm_spank_exit(spank_t sp, int ac, char **av) {
    (void)ac;
    (void)av;
    if (!spank_remote(sp) || !tracker)
        return ESPANK_SUCCESS;
    ct_emissions e = {.struct_size = sizeof(ct_emissions)};
    char step[32], path[PATH_MAX_CT + 256], row[2048];
    step_text(step_id, step, sizeof step);
    ct_status s = ct_tracker_stop(tracker, &e);
    if (s != CT_OK && s != CT_ERR_IO && s != CT_ERR_NETWORK) {
        slurm_error("carbon-tracker: job %u step %s: %s", job_id, step, ct_last_error());
        ct_tracker_discard(tracker);
        tracker = NULL;
        return ESPANK_SUCCESS;
    }
    if (s != CT_OK) /* the numbers are there; an output failed */
        slurm_error("carbon-tracker: job %u step %s: %s", job_id, step, ct_last_error());
    ct_tracker_free(tracker);
    tracker = NULL;
    snprintf(row, sizeof row,
             "{\"job_id\":\"%u\",\"step\":\"%s\",\"node\":\"%s\",\"node_index\":%u,\"source\":\"slurm-plugin\","
             "\"started_unix_s\":%.3f,\"duration_s\":%.6f,\"energy_consumed_kwh\":%.12g,\"cpu_energy_kwh\":%.12g,"
             "\"gpu_energy_kwh\":%.12g,\"ram_energy_kwh\":%.12g,\"emissions_kg\":%.12g,"
             "\"carbon_intensity_g_per_kwh\":%.12g}\n",
             job_id, step, node_name, node_index, started_unix_s, e.duration_s, e.energy_consumed_kwh,
             e.cpu_energy_kwh, e.gpu_energy_kwh, e.ram_energy_kwh, e.emissions_kg, e.carbon_intensity_g_per_kwh);
    snprintf(path, sizeof path, "%s/job-%u/step-%s.%s.json", output_base, job_id, step, node_name);
    if (write_file(path, row))
        slurm_error("carbon-tracker: cannot write %s (%s); job %u step %s: %.6g kWh, %.6g kg CO2e", path,
                    strerror(errno), job_id, step, e.energy_consumed_kwh, e.emissions_kg);
    else
        slurm_info("carbon-tracker: job %u step %s on %s: %.6g kWh, %.6g kg CO2e", job_id, step, node_name,
                   e.energy_consumed_kwh, e.emissions_kg);
    /* The batch step ends before the job does: its AdminComment can still be set by slurmctld. */
    char json[768];
    if (step_id == SLURM_BATCH_SCRIPT && admin_comment && !job_totals(job_id, json, sizeof json))
        set_admin_comment(job_id, json, 0);
    return ESPANK_SUCCESS;
}
