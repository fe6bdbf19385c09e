// The C++ header's tasks (start_task/stop_task, the RAII Task scope) and set_logger with a
// lambda, against the real library. Prints key=value lines that tests/c_abi.rs checks.
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "carbon_tracker.hpp"

#include "check.hpp"

struct Lines {
    std::mutex mu;
    std::vector<std::pair<ct_log_level, std::string>> lines;
    bool has(ct_log_level level, const std::string &part) {
        std::lock_guard<std::mutex> g(mu);
        for (auto &l : lines)
            if (l.first == level && l.second.find(part) != std::string::npos) return true;
        return false;
    }
    size_t size() {
        std::lock_guard<std::mutex> g(mu);
        return lines.size();
    }
};

int main() {
    using namespace carbon_tracker;
    Lines got;
    int reentered = 0;
    set_logger([&](ct_log_level level, std::string_view line) {
        std::lock_guard<std::mutex> g(got.mu);
        got.lines.emplace_back(level, std::string(line));
        if (!version().empty()) reentered++; // calling back into the library from the callback
    });
    Tracker t(Options()
                  .set("offline", true)
                  .set("country_iso_code", "FRA")
                  .set("save_to_file", false)
                  .set("force_ram_power", 10)
                  .set("measure_power_secs", 0.02)
                  .set("log_level", "debug"));

    t.start_task("outer"); // starts the tracker
    Emissions inner_e;
    {
        Task inner(t, "inner"); // nested
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        inner_e = inner.stop();
        try {
            inner.stop();
            CHECK(false);
        } catch (const Error &e) {
            CHECK(e.status() == CT_ERR_INVALID_STATE);
        }
    }
    {
        Task scoped(t, "scoped"); // ended by its destructor
    }
    try {
        t.stop_task("scoped"); // already ended by the destructor
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
    }
    try {
        t.start_task("outer");
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
        CHECK(std::string(e.what()).size() > 0);
    }
    Emissions outer_e = t.stop_task("outer");
    CHECK(inner_e.ram_energy_kwh > 0 && inner_e.ram_energy_kwh < outer_e.ram_energy_kwh);
    for (const Emissions *e : {&inner_e, &outer_e}) // 10 W of RAM: energy = duration x 10 W
        CHECK(std::fabs(e->ram_energy_kwh * 3.6e6 / 10 - e->duration_s) < 1e-6);

    // 8 threads, each with its own task scopes on the shared tracker.
    std::vector<std::thread> threads;
    std::mutex err_mu;
    int errors = 0;
    for (int i = 0; i < 8; i++) {
        threads.emplace_back([&, i] {
            for (int j = 0; j < 50; j++) {
                try {
                    Task task(t, "t" + std::to_string(i) + "-" + std::to_string(j));
                    if (task.stop().duration_s < 0) throw Error(CT_ERR_PANIC, "negative");
                } catch (const Error &) {
                    std::lock_guard<std::mutex> g(err_mu);
                    errors++;
                }
            }
        });
    }
    for (auto &th : threads) th.join();
    CHECK(errors == 0);
    t.stop();
    CHECK(got.has(CT_LOG_INFO, "56.039"));
    CHECK(got.size() > 3);
    {
        std::lock_guard<std::mutex> g(got.mu);
        CHECK(reentered == static_cast<int>(got.lines.size()));
    }

    // Reset: back to stderr, the lambda is not called any more.
    set_logger(nullptr);
    size_t before = got.size();
    {
        Tracker quiet(Options()
                          .set("offline", true)
                          .set("country_iso_code", "FRA")
                          .set("save_to_file", false)
                          .set("log_level", "info"));
        quiet.start();
        quiet.stop();
    }
    CHECK(got.size() == before);

    std::printf("inner_duration=%.6f\nouter_duration=%.6f\nlines=%zu\nfailures=%d\n", inner_e.duration_s,
                outer_e.duration_s, before, failures);
    return failures == 0 ? 0 : 1;
}
