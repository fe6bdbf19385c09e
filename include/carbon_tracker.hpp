// carbon-tracker C++ API: header-only, C++17, over the C ABI in carbon_tracker.h.
//
//   #include "carbon_tracker.hpp"
//   carbon_tracker::Tracker tracker(carbon_tracker::Options()
//                                       .set("project_name", "sim")
//                                       .set("country_iso_code", "FRA"));
//   tracker.start();
//   ... work ...
//   carbon_tracker::Emissions e = tracker.flush();   // cumulative totals since start
//   e = tracker.stop();
//
//   {
//       carbon_tracker::Task epoch(tracker, "epoch 1");   // start_task; the destructor stops it
//       ... work ...
//       carbon_tracker::Emissions mine = epoch.stop();   // or explicitly, for the numbers
//   }
//   for (int step = 0; step < steps; step++) {
//       carbon_tracker::Region r(tracker, "solver");     // region_begin; the destructor ends it
//       ... work ...
//   }                                                    // calls, time and energy accumulate per name
//   carbon_tracker::set_logger([](ct_log_level level, std::string_view line) { ... });
//
//   for (int step = 1; step <= steps; step++) {         // progress and a prediction
//       simulate(step);
//       tracker.set_progress(step, steps);
//       carbon_tracker::Prediction p = tracker.predict();
//       if (p.ready()) std::printf("%.3g kWh at the end\n", p.predicted_energy_kwh);
//   }
//
// Errors are thrown as carbon_tracker::Error (status + message). A Tracker is move-only; its
// destructor stops a running tracker (final CSV row) and frees it, and never throws.
// Numbers in Options are written with std::to_chars: shortest round-trip form, whatever the
// locale. Everything in carbon_tracker::detail is internal.
#ifndef CARBON_TRACKER_HPP
#define CARBON_TRACKER_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "carbon_tracker.h"

namespace carbon_tracker {

/// A failed call: the C status and the library's message.
class Error : public std::runtime_error {
public:
    Error(ct_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    ct_status status() const noexcept { return status_; }

private:
    ct_status status_;
};

namespace detail {

/// `value` as the library's option parser reads it back (src/config/options.rs): `\` and `;`
/// are escaped, every other character is kept (tests/vectors/option_escaping.json).
inline void append_escaped(std::string &out, std::string_view value) {
    for (char c : value) {
        if (c == '\\' || c == ';') out += '\\';
        out += c;
    }
}

/// A number in the shortest form that reads back as the same value; never locale-dependent.
template <typename T>
std::string format_number(T value) {
    char buf[64];
    std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, value);
    if (r.ec != std::errc()) throw std::length_error("carbon_tracker: number too long to format");
    return std::string(buf, r.ptr);
}

inline void check(ct_status s) {
    if (s != CT_OK) throw Error(s, ct_last_error());
}

/// A ct_emissions for the library to fill: zeroed, with its struct_size.
inline ct_emissions blank_emissions() noexcept {
    ct_emissions c;
    std::memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    return c;
}

/// What the options string cannot carry is refused in the library's words
/// (tests/vectors/option_refusals.json): a key with `=`, `;`, `\` or NUL would change the other
/// options, and a NUL byte would cut the string there, losing the options after it.
inline void check_option(std::string_view key, std::string_view value) {
    if (key.find_first_of(std::string_view("=;\\\0", 4)) != std::string_view::npos) {
        std::string shown;
        for (char c : key) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
        throw Error(CT_ERR_INVALID_OPTION, "options: invalid key `" + shown + "`: a key cannot contain `=`, `;`, `\\` or a NUL byte");
    }
    if (value.find('\0') != std::string_view::npos) {
        std::string k;
        size_t b = key.find_first_not_of(" \t\r\n"), e = key.find_last_not_of(" \t\r\n");
        for (char c : b == std::string_view::npos ? std::string_view() : key.substr(b, e - b + 1)) k += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
        throw Error(CT_ERR_INVALID_OPTION, "options: " + k + ": a value cannot contain a NUL byte");
    }
}

/// A whole options string (the library's form) as a C string: refused if a NUL would cut it.
inline const char *options_c_str(const std::string &options) {
    size_t at = options.find('\0');
    if (at != std::string::npos)
        throw Error(CT_ERR_INVALID_OPTION, "options: the options string holds a NUL byte (at byte " + std::to_string(at) + ")");
    return options.c_str();
}

}  // namespace detail

/// Cumulative numbers since start (see ct_emissions in carbon_tracker.h for units).
struct Emissions {
    double duration_s = 0, emissions_kg = 0, emissions_rate_kg_per_s = 0;
    double cpu_power_w = 0, gpu_power_w = 0, ram_power_w = 0;
    double cpu_energy_kwh = 0, gpu_energy_kwh = 0, ram_energy_kwh = 0, energy_consumed_kwh = 0;
    double water_consumed_l = 0;
    double cpu_utilization_percent = 0, gpu_utilization_percent = 0, ram_utilization_percent = 0, ram_used_gb = 0;
    double carbon_intensity_g_per_kwh = 0, pue = 0;
    std::uint64_t measurements = 0;

    // from_c copies every field: a field added at the end of ct_emissions fails this until it does.
    static_assert(sizeof(ct_emissions) ==
                      offsetof(ct_emissions, measurements) + sizeof(std::uint64_t),
                  "ct_emissions has fields after `measurements`: copy them in Emissions::from_c");
    static Emissions from_c(const ct_emissions &c) {
        Emissions e;
        e.duration_s = c.duration_s;
        e.emissions_kg = c.emissions_kg;
        e.emissions_rate_kg_per_s = c.emissions_rate_kg_per_s;
        e.cpu_power_w = c.cpu_power_w;
        e.gpu_power_w = c.gpu_power_w;
        e.ram_power_w = c.ram_power_w;
        e.cpu_energy_kwh = c.cpu_energy_kwh;
        e.gpu_energy_kwh = c.gpu_energy_kwh;
        e.ram_energy_kwh = c.ram_energy_kwh;
        e.energy_consumed_kwh = c.energy_consumed_kwh;
        e.water_consumed_l = c.water_consumed_l;
        e.cpu_utilization_percent = c.cpu_utilization_percent;
        e.gpu_utilization_percent = c.gpu_utilization_percent;
        e.ram_utilization_percent = c.ram_utilization_percent;
        e.ram_used_gb = c.ram_used_gb;
        e.carbon_intensity_g_per_kwh = c.carbon_intensity_g_per_kwh;
        e.pue = c.pue;
        e.measurements = c.measurements;
        return e;
    }
};

/// A run's predicted totals at completion and its budget state: ct_prediction itself (see
/// carbon_tracker.h for the method, units and fields), with ready(). The predicted numbers are
/// NaN unless ready().
struct Prediction : ct_prediction {
    Prediction() : ct_prediction() { struct_size = sizeof(ct_prediction); }
    bool ready() const noexcept { return state == CT_PREDICTION_READY; }
};

/// Builds the `key=value;...` options string. Values are escaped for the library's parser; keys
/// are CodeCarbon's config keys (a key with `=`, `;` or `\` is rejected: no key has them).
class Options {
public:
    Options &set(std::string_view key, std::string_view value) {
        detail::check_option(key, value);  // an empty key: the library's error at construction
        if (!text_.empty()) text_ += ';';
        text_.append(key);
        text_ += '=';
        detail::append_escaped(text_, value);
        return *this;
    }
    Options &set(std::string_view key, const char *value) { return set(key, std::string_view(value)); }
    Options &set(std::string_view key, const std::string &value) { return set(key, std::string_view(value)); }

    /// bool as true/false; integers and floating-point numbers with std::to_chars.
    template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
    Options &set(std::string_view key, T value) {
        static_assert(!std::is_same_v<T, char> && !std::is_same_v<T, signed char> && !std::is_same_v<T, unsigned char> &&
                          !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>,
                      "carbon_tracker::Options::set: pass text as a string, not a character");
        if constexpr (std::is_same_v<T, bool>) {
            return set(key, value ? std::string_view("true") : std::string_view("false"));
        } else {
            return set(key, std::string_view(detail::format_number(value)));
        }
    }

    const std::string &str() const noexcept { return text_; }

private:
    std::string text_;
};

/// Library version, e.g. "0.1.0".
inline std::string version() { return ct_version(); }

/// A tracker; move-only; stops and frees on destruction.
class Tracker {
public:
    Tracker() : Tracker(Options()) {}
    explicit Tracker(const Options &options) { detail::check(ct_tracker_new(options.str().c_str(), &handle_)); }
    explicit Tracker(const std::string &options) { detail::check(ct_tracker_new(detail::options_c_str(options), &handle_)); }
    ~Tracker() { ct_tracker_free(handle_); }  // stops a running tracker; never throws

    Tracker(const Tracker &) = delete;
    Tracker &operator=(const Tracker &) = delete;
    Tracker(Tracker &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Tracker &operator=(Tracker &&other) noexcept {
        if (this != &other) {
            ct_tracker_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }

    void start() { detail::check(ct_tracker_start(live())); }

    /// Starts a named window (and the tracker if it is not running). Tasks may overlap and nest.
    void start_task(std::string_view name) { detail::check(ct_tracker_start_task(live(), std::string(name).c_str())); }

    /// Ends the running task `name`; its own numbers (the run's counters at its stop minus those
    /// at its start).
    Emissions stop_task(std::string_view name) {
        ct_emissions c = detail::blank_emissions();
        detail::check(ct_tracker_stop_task(live(), std::string(name).c_str(), &c));
        return Emissions::from_c(c);
    }
    /// Begins a call of the region `name` on this thread: no measurement, well under a
    /// microsecond; calls accumulate per name (see carbon_tracker.h). `Region` is the scope form.
    void region_begin(const char *name) { detail::check(ct_tracker_region_begin(live(), name)); }
    void region_begin(const std::string &name) { region_begin(name.c_str()); }
    /// Ends a call of the region `name` (the latest begun on this thread, else the oldest open).
    void region_end(const char *name) { detail::check(ct_tracker_region_end(live(), name)); }
    void region_end(const std::string &name) { region_end(name.c_str()); }

    /// Reports progress: `done` steps out of `total` (1 for a fraction). Cheap enough for every
    /// step. Throws Error (CT_ERR_INVALID_OPTION) for numbers out of range, nothing recorded.
    void set_progress(double done, double total = 1.0) { detail::check(ct_tracker_set_progress(live(), done, total)); }

    /// The run's predicted totals at completion and its budget state (measures first unless the
    /// last measurement is under 50 ms old). Not enough evidence is not an error: see ready().
    Prediction predict() {
        Prediction p;
        detail::check(ct_tracker_predict(live(), &p));
        return p;
    }

    /// The totals as of the last measurement, without measuring or writing anything.
    Emissions peek() const {
        ct_emissions c = detail::blank_emissions();
        detail::check(ct_tracker_peek(live(), &c));
        return Emissions::from_c(c);
    }
    Emissions flush() { return report(ct_tracker_flush); }
    Emissions stop() { return report(ct_tracker_stop); }

    /// Like flush/stop but returns the numbers even when an output failed (CT_ERR_IO,
    /// CT_ERR_NETWORK); `status` receives the status.
    Emissions flush(ct_status &status) { return report(ct_tracker_flush, &status); }
    Emissions stop(ct_status &status) { return report(ct_tracker_stop, &status); }

    /// JSON describing the detected hardware and the source/model of each number.
    std::string describe() const {
        char *json = ct_tracker_json(live());
        if (!json) throw Error(ct_last_status(), ct_last_error());
        std::string text(json);
        ct_string_free(json);
        return text;
    }

    ct_tracker *handle() const noexcept { return handle_; }

private:
    ct_tracker *live() const {
        if (!handle_) throw Error(CT_ERR_NULL_ARGUMENT, "carbon_tracker::Tracker was moved from");
        return handle_;
    }

    Emissions report(ct_status (*call)(ct_tracker *, ct_emissions *), ct_status *status = nullptr) {
        ct_emissions c = detail::blank_emissions();
        ct_status s = call(live(), &c);
        if (status) {
            *status = s;
            // State and argument errors leave no numbers to return.
            if (s == CT_OK || s == CT_ERR_IO || s == CT_ERR_NETWORK) return Emissions::from_c(c);
        }
        detail::check(s);
        return Emissions::from_c(c);
    }

    ct_tracker *handle_ = nullptr;
};

/// A task for the lifetime of a scope: the constructor starts it, stop() ends it and returns its
/// numbers, the destructor ends it if stop() was not called (never throwing). Move-only. It
/// holds the library's tracker, not the Tracker object: moving the Tracker (into another
/// variable, a container) leaves the Task working; the tracker must not be destroyed before it.
class Task {
public:
    Task(Tracker &tracker, std::string name) : handle_(tracker.handle()), name_(std::move(name)) {
        tracker.start_task(name_);
    }
    ~Task() {
        if (!handle_) return;
        ct_emissions c = detail::blank_emissions();
        // A destructor does not throw; the run's stop ends the task anyway.
        (void)ct_tracker_stop_task(handle_, name_.c_str(), &c);
    }
    Task(const Task &) = delete;
    Task &operator=(const Task &) = delete;
    Task(Task &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)), name_(std::move(other.name_)) {}
    Task &operator=(Task &&) = delete;

    /// Ends the task now; throws Error if it already ended (or was never running).
    Emissions stop() {
        if (!handle_) throw Error(CT_ERR_INVALID_STATE, "carbon_tracker::Task `" + name_ + "` was already stopped");
        ct_tracker *t = std::exchange(handle_, nullptr);
        ct_emissions c = detail::blank_emissions();
        detail::check(ct_tracker_stop_task(t, name_.c_str(), &c));
        return Emissions::from_c(c);
    }
    const std::string &name() const noexcept { return name_; }

private:
    ct_tracker *handle_;
    std::string name_;
};

/// A call of a region for the lifetime of a scope: the constructor begins it, the destructor
/// (or end()) ends it. For loops entered millions of times: no allocation for a `const char *`
/// name (it must outlive the scope, as a string literal does; a std::string name is copied).
/// Neither copyable nor movable; the Tracker must outlive it. The destructor never throws (the
/// tracker's stop ends calls still open).
class Region {
public:
    Region(Tracker &tracker, const char *name) : tracker_(&tracker), name_(name) { tracker_->region_begin(name_); }
    Region(Tracker &tracker, std::string name) : tracker_(&tracker), owned_(std::move(name)), name_(owned_.c_str()) {
        tracker_->region_begin(name_);
    }
    ~Region() {
        if (tracker_ && tracker_->handle()) (void)ct_tracker_region_end(tracker_->handle(), name_);
    }
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;

    /// Ends the call now; throws Error if it already ended or the library refuses.
    void end() {
        if (!tracker_) throw Error(CT_ERR_INVALID_STATE, std::string("carbon_tracker::Region `") + name_ + "` already ended");
        std::exchange(tracker_, nullptr)->region_end(name_);
    }
    const char *name() const noexcept { return name_; }

private:
    Tracker *tracker_;
    std::string owned_;
    const char *name_;
};

/// Receives the library's log lines: level and message (valid during the call only). Called on
/// the thread that made the line (possibly the library's background thread), concurrently.
using LogFunction = std::function<void(ct_log_level, std::string_view)>;

namespace detail {
/// The function set_logger installed. Never destroyed: the library's threads may log while the
/// program exits, after static destructors ran (a function-local static would be gone then).
struct LogSlot {
    std::mutex mu;
    std::shared_ptr<const LogFunction> fn;
};
inline LogSlot &log_slot() {
    static LogSlot *slot = new LogSlot;  // intentionally never deleted
    return *slot;
}
inline std::shared_ptr<const LogFunction> current_logger() {
    LogSlot &s = log_slot();
    std::lock_guard<std::mutex> held(s.mu);
    return s.fn;
}
inline void replace_logger(std::shared_ptr<const LogFunction> fn) {
    LogSlot &s = log_slot();
    std::lock_guard<std::mutex> held(s.mu);
    s.fn.swap(fn);
    // The previous function is released here, or by a call still using it when that returns.
}
extern "C" inline void carbon_tracker_hpp_log_trampoline(void *, ct_log_level level, const char *message) {
    std::shared_ptr<const LogFunction> fn = current_logger();
    if (!fn) return;
    try {
        (*fn)(level, message ? std::string_view(message) : std::string_view());
    } catch (...) {  // an exception must not cross the C library
    }
}
}  // namespace detail

/// Sends the log lines of every tracker of the process to `fn` (any callable); an empty one
/// (nullptr) restores standard error. A call in progress on another thread keeps the previous
/// function alive until it returns. The function set last stays callable until the process
/// ends (it is never destroyed at exit, when the library's threads may still log).
inline void set_logger(LogFunction fn) {
    if (!fn) {
        ct_set_logger(nullptr, nullptr);
        detail::replace_logger(nullptr);
        return;
    }
    detail::replace_logger(std::make_shared<const LogFunction>(std::move(fn)));
    ct_set_logger(&detail::carbon_tracker_hpp_log_trampoline, nullptr);
}

}  // namespace carbon_tracker

#endif  // CARBON_TRACKER_HPP
