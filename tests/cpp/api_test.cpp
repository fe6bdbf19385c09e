// The C++ header against the real library: RAII, moves, exceptions, options escaping.
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "carbon_tracker.hpp"

#include "check.hpp"

// `call` throws a carbon_tracker::Error with `status` and a message containing `words`.
template <class F> static bool throws(F call, ct_status status, const std::string &words) {
    try {
        call();
    } catch (const carbon_tracker::Error &e) {
        if (e.status() == status && std::string(e.what()).find(words) != std::string::npos) return true;
        std::fprintf(stderr, "status %d, message: %s\n", (int)e.status(), e.what());
        return false;
    }
    std::fprintf(stderr, "no exception (expected: %s)\n", words.c_str());
    return false;
}

int main(int argc, char **argv) {
    using namespace carbon_tracker;
    std::string dir = argc > 1 ? argv[1] : ".";
    CHECK(!version().empty());

    // Errors are exceptions with the status and the library's message.
    CHECK(throws([] { Tracker bad(Options().set("projet_name", "x")); }, CT_ERR_INVALID_OPTION,
                 "unknown option `projet_name`; did you mean `project_name`?"));
    Tracker t(Options()
                  .set("offline", true)
                  .set("project_name", "a;b") // escaped by the builder
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
    Emissions peeked = moved.peek(); // the flush's measurement or a later tick's; nothing written
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

    // An output_dir that cannot be made: CT_ERR_IO at start, in the library's words.
    Tracker unmade(Options().set("offline", true).set("output_dir", dir + "/no-parent/out"));
    CHECK(throws([&] { unmade.start(); }, CT_ERR_IO,
                 "output_dir " + dir + "/no-parent/out: no such directory, nor its parent"));
    // A country code no country has, with the nearest ones.
    CHECK(throws([] { Tracker frn(Options().set("country_iso_code", "FRN")); }, CT_ERR_INVALID_OPTION,
                 "no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France)"));

    // The non-throwing overload returns numbers with an output error (the directory, created
    // at start, is gone).
    Tracker io(Options().set("offline", true).set("output_dir", dir + "/vanishing"));
    io.start();
    CHECK(std::remove((dir + "/vanishing/emissions.csv").c_str()) == 0 &&
          std::remove((dir + "/vanishing").c_str()) == 0);
    ct_status status = CT_OK;
    Emissions partial = io.stop(status);
    CHECK(status == CT_ERR_IO);
    CHECK(partial.duration_s > 0);

    {
        Tracker scoped(Options().set("offline", true).set("output_dir", dir).set("project_name", "scoped"));
        scoped.start();
    }
    std::printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
