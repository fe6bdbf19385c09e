/* A fake NVML for tests: built as libnvidia-ml.so.1 into a directory put first on
 * LD_LIBRARY_PATH, it is found by the library's real loading path (and by nvidia-ml-py's).
 *
 * The node it simulates is read at nvmlInit from the file named by $FAKE_NVML_CONFIG, one device
 * per line, in index order:
 *   gpu UUID NAME POWER_W counter|power [util=PCT] [max_w=W] [mig=MIG-a,MIG-b] [lost_file=PATH]
 *   fail                      an index whose handle cannot be had (NVML_ERROR_NO_PERMISSION)
 * NAME uses '_' for spaces. Energy counters are consistent across every process of the machine:
 * energy_mj = POWER_W x CLOCK_MONOTONIC in ms (+ a fixed offset), the value a real counter of a
 * device drawing POWER_W would show. `power` devices have no energy counter (NOT_SUPPORTED), as
 * pre-Volta GPUs; their power reads POWER_W. A device is lost (NVML_ERROR_GPU_IS_LOST) while
 * its lost_file exists. MIG instances have their own handles and UUIDs and no power or energy
 * of their own, as on real MIG GPUs. Without $FAKE_NVML_CONFIG, nvmlInit fails as on a machine
 * whose driver is not loaded. */
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
};

typedef struct fake_device *nvmlDevice_t;
typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

static struct fake_device devices[MAX_DEVICES];
static struct fake_device mig_devices[MAX_DEVICES * MAX_MIG];
static unsigned n_devices, n_mig_devices;
static int initialised;

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
