// The C++ header against the real library: RAII, moves, exceptions, options escaping.
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "carbon_tracker.hpp"

#include "check.hpp"

int main(int argc, char **argv) {
    using namespace carbon_tracker;
    std::string dir = argc > 1 ? argv[1] : ".";
    CHECK(!version().empty());

    // Errors are exceptions with the status and the library's message.
    try {
        Tracker bad(Options().set("projet_name", "x"));
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_OPTION);
        CHECK(std::string(e.what()).find("projet_name") != std::string::npos);
    }
    Tracker t(Options()
                  .set("offline", true)
                  .set("project_name", "a;b")  // escaped by the builder
                  .set("country_iso_code", "FRA")
                  .set("measure_power_secs", 0.05)
                  .set("output_dir", dir));
    try {
        t.flush();
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_INVALID_STATE);
    }
    t.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));

    // Move: the moved-from object refuses calls, the new one keeps tracking.
    Tracker moved = std::move(t);
    try {
        t.flush();
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status() == CT_ERR_NULL_ARGUMENT);
    }
    std::string json = moved.describe();
    CHECK(json.find("\"state\":\"running\"") != std::string::npos);
    CHECK(json.find("\"methods\"") != std::string::npos);
    Emissions e = moved.flush();
    CHECK(e.duration_s > 0.1 && e.energy_consumed_kwh > 0);
    Emissions peeked = moved.peek();  // the flush's measurement or a later tick's; nothing written
    CHECK(peeked.measurements >= e.measurements && peeked.energy_consumed_kwh >= e.energy_consumed_kwh);
    CHECK(e.carbon_intensity_g_per_kwh == 56.039);
    CHECK(e.measurements >= 2);

    // Several threads on one tracker.
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++)
        threads.emplace_back([&] {
            for (int k = 0; k < 100; k++) moved.flush();
        });
    for (auto &th : threads) th.join();

    Emissions last = moved.stop();
    CHECK(last.energy_consumed_kwh >= e.energy_consumed_kwh);
    try {
        moved.stop();
        CHECK(false);
    } catch (const Error &err) {
        CHECK(err.status() == CT_ERR_INVALID_STATE);
    }

    // The non-throwing overload returns numbers with an output error.
    Tracker io(Options().set("offline", true).set("output_dir", dir + "/missing"));
    io.start();
    ct_status status = CT_OK;
    Emissions partial = io.stop(status);
    CHECK(status == CT_ERR_IO);
    CHECK(partial.duration_s > 0);

    { Tracker scoped(Options().set("offline", true).set("output_dir", dir).set("project_name", "scoped")); scoped.start(); }
    std::printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
