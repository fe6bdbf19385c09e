/* A fake NVML for tests: built as libnvidia-ml.so.1 into a directory put first on
 * LD_LIBRARY_PATH, it is found by the library's real loading path (and by nvidia-ml-py's).
 *
 * The node it simulates is read at nvmlInit from the file named by $FAKE_NVML_CONFIG, one device
 * per line, in index order:
 *   gpu UUID NAME POWER_W counter|power [util=PCT] [max_w=W] [mig=MIG-a,MIG-b] [lost_file=PATH]
 *       [proc=PID,SM[,FROM_MS,TO_MS]]... [gproc=...]... [sample_ms=MS] [noproc]
 *   fail                      an index whose handle cannot be had (NVML_ERROR_NO_PERMISSION)
 * NAME uses '_' for spaces. Energy counters are consistent across every process of the machine:
 * energy_mj = POWER_W x CLOCK_MONOTONIC in ms (+ a fixed offset), the value a real counter of a
 * device drawing POWER_W would show. `power` devices have no energy counter (NOT_SUPPORTED), as
 * pre-Volta GPUs; their power reads POWER_W. A device is lost (NVML_ERROR_GPU_IS_LOST) while
 * its lost_file exists. MIG instances have their own handles and UUIDs and no power or energy
 * of their own, as on real MIG GPUs. Without $FAKE_NVML_CONFIG, nvmlInit fails as on a machine
 * whose driver is not loaded.
 *
 * Processes: each proc= (a compute context) or gproc= (a graphics one) runs on the device from
 * FROM_MS to TO_MS of CLOCK_MONOTONIC (0: always; @PATH: the number in file PATH once it is
 * written, read at each call), at SM % of the SMs. PID is a number, `self`
 * (the process that loads this library) or `env:VAR=VALUE` (the process whose VAR is VALUE; in
 * the others a stand-in pid 4000000 + the entry's number). Running processes are listed while
 * they run; per-process utilisation samples are taken every sample_ms (100) on a grid of
 * CLOCK_MONOTONIC, one per running process, and kept 10 s, as NVML's buffer. `noproc`: NVML
 * gives no process data for the device (NOT_SUPPORTED); a MIG-enabled device lists its processes
 * but has no per-process utilisation, as on real MIG GPUs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999,
};

#define MAX_DEVICES 16
#define MAX_MIG 7
#define MAX_PROCS 16
#define SAMPLE_BUFFER_MS 10000ULL

struct fake_proc {
    unsigned pid;
    unsigned sm;
    int graphics;
    unsigned long long from_ms, to_ms;
    char to_file[256];
};

struct fake_device {
    int index;
    int fails;
    int is_mig;
    struct fake_device *parent;
    char uuid[96];
    char name[96];
    double power_w;
    int has_counter;
    unsigned util;
    unsigned max_mw;
    char lost_file[512];
    int n_mig;
    struct fake_device *mig[MAX_MIG];
    int noproc;
    unsigned sample_ms;
    int n_procs;
    struct fake_proc procs[MAX_PROCS];
};

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

typedef struct fake_device *nvmlDevice_t;
typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

static struct fake_device devices[MAX_DEVICES];
static struct fake_device mig_devices[MAX_DEVICES * MAX_MIG];
static unsigned n_devices, n_mig_devices;
static int initialised;

static unsigned long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

/* proc=PID,SM[,FROM_MS,TO_MS] */
static void add_proc(struct fake_device *d, char *spec, int graphics) {
    if (d->n_procs >= MAX_PROCS) return;
    struct fake_proc *p = &d->procs[d->n_procs];
    char *save = NULL, *pid = strtok_r(spec, ",", &save), *sm = strtok_r(NULL, ",", &save);
    char *from = strtok_r(NULL, ",", &save), *to = strtok_r(NULL, ",", &save);
    if (!pid || !sm) return;
    memset(p, 0, sizeof *p);
    if (strcmp(pid, "self") == 0) {
        p->pid = (unsigned)getpid();
    } else if (strncmp(pid, "env:", 4) == 0) {
        char *eq = strchr(pid + 4, '=');
        const char *have = NULL;
        if (eq) {
            *eq = 0;
            have = getenv(pid + 4);
        }
        p->pid = eq && have && strcmp(have, eq + 1) == 0 ? (unsigned)getpid() : 4000000u + (unsigned)d->n_procs;
    } else {
        p->pid = (unsigned)strtoul(pid, NULL, 10);
    }
    p->sm = (unsigned)atoi(sm);
    p->graphics = graphics;
    p->from_ms = from ? strtoull(from, NULL, 10) : 0;
    if (to && to[0] == '@')
        snprintf(p->to_file, sizeof p->to_file, "%s", to + 1);
    else
        p->to_ms = to ? strtoull(to, NULL, 10) : 0;
    d->n_procs++;
}

/* The ends given in files, once written. */
static void read_ends(struct fake_device *d) {
    for (int i = 0; i < d->n_procs; i++) {
        struct fake_proc *p = &d->procs[i];
        FILE *f = p->to_file[0] ? fopen(p->to_file, "r") : NULL;
        if (!f) continue;
        unsigned long long ms = 0;
        if (fscanf(f, "%llu", &ms) == 1) p->to_ms = ms;
        fclose(f);
    }
}

static int runs_at(const struct fake_proc *p, unsigned long long ms) {
    return ms >= p->from_ms && (p->to_ms == 0 || ms < p->to_ms);
}

static int lost(const struct fake_device *d) {
    const struct fake_device *p = d->is_mig ? d->parent : d;
    return p->lost_file[0] && access(p->lost_file, F_OK) == 0;
}

static void load_config(FILE *f) {
    char line[2048];
    n_devices = n_mig_devices = 0;
    while (fgets(line, sizeof line, f) && n_devices < MAX_DEVICES) {
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
        if (!tok || tok[0] == '#') continue;
        struct fake_device *d = &devices[n_devices];
        memset(d, 0, sizeof *d);
        d->index = (int)n_devices++;
        if (strcmp(tok, "fail") == 0) {
            d->fails = 1;
            continue;
        }
        char *uuid = strtok_r(NULL, " \t\n", &save), *name = strtok_r(NULL, " \t\n", &save);
        char *power = strtok_r(NULL, " \t\n", &save), *kind = strtok_r(NULL, " \t\n", &save);
        if (!uuid || !name || !power || !kind) {
            d->fails = 1;
            continue;
        }
        snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
        snprintf(d->name, sizeof d->name, "%s", name);
        for (char *c = d->name; *c; c++)
            if (*c == '_') *c = ' ';
        d->power_w = atof(power);
        d->has_counter = strcmp(kind, "counter") == 0;
        while ((tok = strtok_r(NULL, " \t\n", &save))) {
            if (strncmp(tok, "util=", 5) == 0)
                d->util = (unsigned)atoi(tok + 5);
            else if (strncmp(tok, "max_w=", 6) == 0)
                d->max_mw = (unsigned)(atof(tok + 6) * 1000);
            else if (strncmp(tok, "proc=", 5) == 0)
                add_proc(d, tok + 5, 0);
            else if (strncmp(tok, "gproc=", 6) == 0)
                add_proc(d, tok + 6, 1);
            else if (strncmp(tok, "sample_ms=", 10) == 0)
                d->sample_ms = (unsigned)atoi(tok + 10);
            else if (strcmp(tok, "noproc") == 0)
                d->noproc = 1;
            else if (strncmp(tok, "lost_file=", 10) == 0)
                snprintf(d->lost_file, sizeof d->lost_file, "%s", tok + 10);
            else if (strncmp(tok, "mig=", 4) == 0) {
                char *msave = NULL;
                for (char *m = strtok_r(tok + 4, ",", &msave); m && d->n_mig < MAX_MIG;
                     m = strtok_r(NULL, ",", &msave)) {
                    struct fake_device *md = &mig_devices[n_mig_devices++];
                    memset(md, 0, sizeof *md);
                    md->is_mig = 1;
                    md->parent = d;
                    md->index = d->n_mig;
                    snprintf(md->uuid, sizeof md->uuid, "%s", m);
                    snprintf(md->name, sizeof md->name, "%s MIG 1g.10gb", d->name);
                    d->mig[d->n_mig++] = md;
                }
            }
        }
    }
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    const char *path = getenv("FAKE_NVML_CONFIG");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return NVML_ERROR_DRIVER_NOT_LOADED;
    load_config(f);
    fclose(f);
    initialised = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
        return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND:
        return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU is lost";
    default:
        return "Unknown Error";
    }
}

static nvmlReturn_t copy_string(const char *s, char *out, unsigned int len) {
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int len) {
    return copy_string("550.00.fake", version, len);
}
nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int len) {
    return copy_string("12.550.00.fake", version, len);
}
nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) {
    if (!v) return NVML_ERROR_INVALID_ARGUMENT;
    *v = 12040;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return nvmlSystemGetCudaDriverVersion(v); }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = n_devices;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return nvmlDeviceGetCount_v2(count); }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= n_devices) return NVML_ERROR_INVALID_ARGUMENT;
    if (devices[index].fails) return NVML_ERROR_NO_PERMISSION;
    *device = &devices[index];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned i = 0; i < n_devices; i++)
        if (!devices[i].fails && strcmp(devices[i].uuid, uuid) == 0) {
            *device = &devices[i];
            return NVML_SUCCESS;
        }
    for (unsigned i = 0; i < n_mig_devices; i++)
        if (strcmp(mig_devices[i].uuid, uuid) == 0) {
            *device = &mig_devices[i];
            return NVML_SUCCESS;
        }
    return NVML_ERROR_NOT_FOUND;
}

#define CHECK(d)                                           \
    do {                                                   \
        if (!initialised) return NVML_ERROR_UNINITIALIZED; \
        if (!(d)) return NVML_ERROR_INVALID_ARGUMENT;      \
        if (lost(d)) return NVML_ERROR_GPU_IS_LOST;        \
    } while (0)

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len) {
    CHECK(d);
    return copy_string(d->name, name, len);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int len) {
    CHECK(d);
    return copy_string(d->uuid, uuid, len);
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned int *index) {
    CHECK(d);
    if (!index) return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned)(d->is_mig ? d->parent->index : d->index);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *energy_mj) {
    CHECK(d);
    if (!energy_mj) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || !d->has_counter) return NVML_ERROR_NOT_SUPPORTED;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double ms = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    *energy_mj = 5000000ULL * (unsigned long long)(d->index + 1) + (unsigned long long)(d->power_w * ms);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *power_mw) {
    CHECK(d);
    if (!power_mw) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig) return NVML_ERROR_NOT_SUPPORTED;
    *power_mw = (unsigned)(d->power_w * 1000);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    CHECK(d);
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig) return NVML_ERROR_NOT_SUPPORTED;
    u->gpu = d->util;
    u->memory = d->util / 2;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t d, unsigned int *min_mw, unsigned int *max_mw) {
    CHECK(d);
    if (!min_mw || !max_mw) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || !d->max_mw) return NVML_ERROR_NOT_SUPPORTED;
    *min_mw = d->max_mw / 2;
    *max_mw = d->max_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *limit_mw) {
    CHECK(d);
    if (!limit_mw) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || !d->max_mw) return NVML_ERROR_NOT_SUPPORTED;
    *limit_mw = d->max_mw;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t d, unsigned int *limit_mw) {
    return nvmlDeviceGetEnforcedPowerLimit(d, limit_mw);
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    CHECK(d);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig) return NVML_ERROR_NOT_SUPPORTED;
    *current = *pending = d->n_mig > 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned int *count) {
    CHECK(d);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || !d->n_mig) return NVML_ERROR_NOT_SUPPORTED;
    *count = MAX_MIG;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned int index, nvmlDevice_t *mig) {
    CHECK(d);
    if (!mig || d->is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    if (index >= (unsigned)d->n_mig) return NVML_ERROR_NOT_FOUND; /* an empty slot */
    *mig = d->mig[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t d, unsigned int *is_mig) {
    CHECK(d);
    if (!is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    *is_mig = (unsigned)d->is_mig;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig, nvmlDevice_t *parent) {
    CHECK(mig);
    if (!parent || !mig->is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    *parent = mig->parent;
    return NVML_SUCCESS;
}

/* The processes of one kind running now; the count alone when `infos` is NULL or too small. */
static nvmlReturn_t running(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos, int graphics) {
    CHECK(d);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || d->noproc) return NVML_ERROR_NOT_SUPPORTED;
    read_ends(d);
    unsigned long long now = monotonic_ms();
    unsigned n = 0;
    for (int i = 0; i < d->n_procs; i++)
        if (d->procs[i].graphics == graphics && runs_at(&d->procs[i], now)) n++;
    if (n == 0 || !infos || *count < n) {
        *count = n;
        return n == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    n = 0;
    for (int i = 0; i < d->n_procs; i++) {
        const struct fake_proc *p = &d->procs[i];
        if (p->graphics != graphics || !runs_at(p, now)) continue;
        infos[n].pid = p->pid;
        infos[n].usedGpuMemory = 1ULL << 30;
        /* MIG: processes spread over the instances. */
        infos[n].gpuInstanceId = infos[n].computeInstanceId = d->n_mig ? (unsigned)(i % d->n_mig) : 0xFFFFFFFFu;
        n++;
    }
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return running(d, count, infos, 0);
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return running(d, count, infos, 0);
}
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return running(d, count, infos, 1);
}
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos) {
    return running(d, count, infos, 1);
}

/* The samples newer than last_seen_us (oldest first, at most *count of them; the count alone when
 * `samples` is NULL): one per running process at each sample_ms step of the last 10 s. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *samples,
                                             unsigned int *count, unsigned long long last_seen_us) {
    CHECK(d);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->is_mig || d->noproc || d->n_mig) return NVML_ERROR_NOT_SUPPORTED;
    read_ends(d);
    unsigned long long step = d->sample_ms ? d->sample_ms : 100, now = monotonic_ms();
    unsigned long long first = last_seen_us / 1000 / step + 1;
    if (now > SAMPLE_BUFFER_MS && first < (now - SAMPLE_BUFFER_MS) / step) first = (now - SAMPLE_BUFFER_MS) / step;
    unsigned n = 0, room = samples ? *count : 0;
    for (unsigned long long k = first; k * step <= now; k++) {
        unsigned at_k = 0;
        for (int i = 0; i < d->n_procs; i++) at_k += (unsigned)runs_at(&d->procs[i], k * step);
        if (samples && n + at_k > room) break; /* whole steps only: the rest comes at the next call */
        for (int i = 0; samples && i < d->n_procs; i++) {
            const struct fake_proc *p = &d->procs[i];
            if (!runs_at(p, k * step)) continue;
            nvmlProcessUtilizationSample_t *s = &samples[n++];
            s->pid = p->pid;
            s->timeStamp = k * step * 1000;
            s->smUtil = p->sm;
            s->memUtil = p->sm / 2;
            s->encUtil = s->decUtil = 0;
        }
        if (!samples) n += at_k;
    }
    *count = n;
    return samples ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
}
