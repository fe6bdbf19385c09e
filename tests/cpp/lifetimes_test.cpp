// Lifetimes in the C++ header, against the real library (built and run by tests/c_abi.rs):
// - a Task keeps working when its Tracker is moved (into another variable, into a vector that
//   reallocates);
// - the logger set with set_logger stays callable while the program exits: the library's
//   background thread still logs after main returns, during static destruction.
// Prints key=value lines; exits 9 if the logger was called after it was destroyed.
#include <atomic>
#include <cstdio>
#include <memory>
#include <unistd.h>
#include <utility>
#include <vector>

#include "carbon_tracker.hpp"

#include "check.hpp"

static std::atomic<bool> g_logger_destroyed{false};
static std::atomic<int> g_calls_after_destruction{0};
static std::atomic<int> g_calls{0};

struct Canary {
    ~Canary() { g_logger_destroyed = true; }
};

// Constructed before main, so destroyed after the statics that main's calls made (the header's
// logger slot among them): the process stays in its static destructors for 300 ms while the
// library's background thread ticks every 10 ms and logs each tick.
struct LingerAtExit {
    ~LingerAtExit() {
        int before = g_calls.load();
        usleep(300000);
        if (g_calls.load() == before) std::fprintf(stderr, "no log line during the exit (the test saw nothing)\n");
        if (g_calls_after_destruction.load() > 0) {
            std::fprintf(stderr, "logger called %d times after it was destroyed\n", g_calls_after_destruction.load());
            _exit(9);
        }
    }
} g_linger;

int main() {
    using namespace carbon_tracker;
    Options opts = Options()
                       .set("offline", true)
                       .set("country_iso_code", "FRA")
                       .set("save_to_file", false)
                       .set("force_ram_power", 10)
                       .set("measure_power_secs", 0.01);

    // A Task outlives the move of its Tracker.
    Tracker a(opts);
    Task moved(a, "moved");
    Tracker b(std::move(a));
    std::vector<Tracker> v;
    v.push_back(std::move(b));
    for (int i = 0; i < 4; i++) v.emplace_back(opts); // reallocations move the first one again
    usleep(20000);
    try {
        Emissions e = moved.stop();
        CHECK(e.duration_s > 0.015);
        std::printf("moved_task_duration=%.6f\n", e.duration_s);
    } catch (const Error &e) {
        std::fprintf(stderr, "Task::stop after the Tracker moved: %s\n", e.what());
        failures++;
    }
    {
        Task scoped(v[0], "scoped"); // the destructor ends it after another move
        Tracker c(std::move(v[0]));
        v[0] = std::move(c);
    }
    CHECK(v[0].stop().measurements >= 1);

    // The logger, set for the rest of the process; a tracker left running logs every tick.
    auto canary = std::make_shared<Canary>();
    set_logger([canary](ct_log_level, std::string_view) {
        g_calls++;
        if (g_logger_destroyed) g_calls_after_destruction++;
    });
    canary.reset();
    ct_tracker *left_running = nullptr;
    detail::check(ct_tracker_new((opts.str() + ";log_level=debug").c_str(), &left_running));
    detail::check(ct_tracker_start(left_running));
    usleep(50000);
    CHECK(g_calls.load() > 0);
    std::printf("failures=%d\n", failures);
    return failures ? 1 : 0; // left_running is never freed: it ticks through the exit
}
