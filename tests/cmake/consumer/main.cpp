#include <cstdio>

#include "carbon_tracker.hpp"

int main() {
    carbon_tracker::Tracker t(
        carbon_tracker::Options().set("offline", true).set("save_to_file", false).set("country_iso_code", "FRA"));
    t.start();
    auto e = t.stop();
    std::printf("consumer: carbon-tracker %s, %.6g g/kWh\n", carbon_tracker::version().c_str(),
                e.carbon_intensity_g_per_kwh);
    return e.carbon_intensity_g_per_kwh == 56.039 ? 0 : 1;
}
