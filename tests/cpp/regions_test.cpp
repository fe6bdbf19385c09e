// The C++ header's regions: Tracker::region_begin/region_end and the RAII Region scope in a
// time-step loop, nested, in several threads, an explicit end(), and errors as exceptions.
//   cpp_regions_test OUT_DIR
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "carbon_tracker.hpp"

#include "check.hpp"

static int count_lines(const std::string &path) {
    std::ifstream f(path);
    int n = 0;
    for (std::string line; std::getline(f, line);) n++;
    return n;
}

int main(int argc, char **argv) {
    using namespace carbon_tracker;
    std::string out = argc > 1 ? argv[1] : ".";
    Tracker t(Options()
                  .set("offline", true)
                  .set("country_iso_code", "FRA")
                  .set("force_ram_power", 10)
                  .set("measure_power_secs", 0.02)
                  .set("experiment_name", "cpp")
                  .set("output_dir", out));
    t.start();
    for (int step = 0; step < 20; step++) {
        Region whole(t, "step");
        {
            Region solver(t, "solver");
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        Region halo(t, std::string("halo exchange (a long name, copied)"));
        halo.end();
        try {
            halo.end();
            CHECK(false);
        } catch (const Error &e) {
            CHECK(e.status() == CT_ERR_INVALID_STATE);
        }
    }
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; k++)
        threads.emplace_back([&t] {
            for (int i = 0; i < 1000; i++) Region r(t, "kernel");
        });
    for (auto &th : threads) th.join();
    try {
        t.region_end("solver");
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
        CHECK(std::string(e.what()).find("`solver` is not open") != std::string::npos);
    }
    try {
        t.region_begin("");
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_OPTION);
    }
    Emissions run = t.stop();
    CHECK(run.energy_consumed_kwh > 0);
    std::string json = t.describe();
    CHECK(json.find("\"name\":\"step\"") != std::string::npos);
    CHECK(json.find("\"calls\":4000") != std::string::npos); // kernel: 4 threads x 1000
    CHECK(json.find("\"calls\":20,") != std::string::npos);
    // One row per region (step, solver, halo exchange, kernel) under the header.
    std::string json_run_id = json.substr(json.find("\"run_id\":\"") + 10, 36);
    CHECK(count_lines(out + "/regions_cpp_" + json_run_id + ".csv") == 5);
    try {
        Region late(t, "late");
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
    }
    std::printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
