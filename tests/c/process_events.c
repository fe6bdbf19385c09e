/* Process events with a running tracker (built and run by tests/c_abi.rs):
 *   fork: the child flushes, stops and frees its copy without deadlock (forks land while the
 *         background thread ticks every 10 ms; a 5 s alarm turns a deadlock into a failure);
 *   dlclose: the library loaded with dlopen, used, every tracker freed, then unloaded, and
 *         the process goes on sleeping past the next background timer without crashing. */
#define _DEFAULT_SOURCE /* usleep */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carbon_tracker.h"

static int fork_test(void) {
    ct_tracker *t = NULL;
    if (ct_tracker_new("offline=true;save_to_file=false;force_ram_power=10;measure_power_secs=0.01", &t) != CT_OK)
        return 1;
    if (ct_tracker_start(t) != CT_OK) return 1;
    for (int i = 0; i < 40; i++) {
        usleep(3000 + i * 250); /* land at different points of the 10 ms tick */
        pid_t pid = fork();
        if (pid == 0) {
            alarm(5);
            ct_emissions e;
            memset(&e, 0, sizeof e);
            e.struct_size = sizeof e;
            int ok = ct_tracker_flush(t, &e) == CT_OK && ct_tracker_stop(t, &e) == CT_OK && e.duration_s > 0;
            ct_tracker_free(t);
            _exit(ok ? 0 : 3);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork %d: child %s %d\n", i, WIFSIGNALED(status) ? "killed by signal" : "exited with",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return 1;
        }
    }
    ct_emissions e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    if (ct_tracker_stop(t, &e) != CT_OK || e.measurements < 10) return 1;
    ct_tracker_free(t);
    printf("fork: 40 children flushed and stopped, parent kept %llu measurements\n",
           (unsigned long long)e.measurements);
    return 0;
}

typedef ct_status (*new_fn)(const char *, ct_tracker **);
typedef ct_status (*start_fn)(ct_tracker *);
typedef ct_status (*report_fn)(ct_tracker *, ct_emissions *);
typedef void (*free_fn)(ct_tracker *);

static int dlclose_test(const char *lib) {
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    new_fn tnew = (new_fn)dlsym(h, "ct_tracker_new");
    start_fn tstart = (start_fn)dlsym(h, "ct_tracker_start");
    report_fn tstop = (report_fn)dlsym(h, "ct_tracker_stop");
    free_fn tfree = (free_fn)dlsym(h, "ct_tracker_free");
    for (int i = 0; i < 3; i++) {
        ct_tracker *t = NULL;
        if (tnew("offline=true;save_to_file=false;measure_power_secs=0.05", &t) != CT_OK || tstart(t) != CT_OK)
            return 1;
        usleep(120000);
        if (tstop(t, NULL) != CT_OK) return 1;
        tfree(t);
    }
    if (dlclose(h) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    sleep(2); /* past the load sampler's next 1 s timer */
    printf("dlclose: unloaded after 3 trackers, process alive 2 s later\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (fork_test() != 0) return 1;
    if (dlclose_test(argv[1]) != 0) return 1;
    return 0;
}
