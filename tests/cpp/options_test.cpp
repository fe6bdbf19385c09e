// carbon_tracker::Options against the escaping vector shared with the Go and Python bindings
// (tests/vectors/option_escaping.json) and the library's parser, and number formatting under a
// locale whose decimal separator is a comma; what the options string cannot carry against
// tests/vectors/option_refusals.json.
//   options_test <path to option_escaping.json> <path to option_refusals.json>
#include <clocale>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "carbon_tracker.hpp"

namespace {

int failures = 0;

void expect(bool ok, const std::string &what) {
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
        ++failures;
    }
}

// Just enough JSON for the vector: objects, arrays, strings (with escapes), nothing else.
struct Reader {
    std::string s;
    size_t i = 0;
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
    }
    bool eat(char c) {
        ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    static void utf8(std::string &out, unsigned cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }
    std::string string() {
        if (!eat('"')) throw std::runtime_error("vector: string expected at " + std::to_string(i));
        std::string out;
        while (s.at(i) != '"') {
            char c = s[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            char e = s.at(i++);
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'u':
                utf8(out, unsigned(std::stoul(s.substr(i, 4), nullptr, 16)));
                i += 4;
                break;
            default:
                out += e; // " \ /
            }
        }
        ++i;
        return out;
    }
};

struct Case {
    std::string name, value, escaped, parsed, key, message;
};

std::vector<Case> read_vector(const char *path) {
    std::ifstream f(path);
    std::stringstream buf;
    buf << f.rdbuf();
    Reader r{buf.str()};
    std::vector<Case> cases;
    if (!r.eat('{')) throw std::runtime_error("vector: not an object");
    do {
        std::string key = r.string();
        r.eat(':');
        if (key != "cases") {
            r.string();
            continue;
        }
        r.eat('[');
        do {
            Case c;
            r.eat('{');
            do {
                std::string k = r.string();
                r.eat(':');
                std::string v = r.string();
                if (k == "name")
                    c.name = v;
                else if (k == "value")
                    c.value = v;
                else if (k == "escaped")
                    c.escaped = v;
                else if (k == "parsed")
                    c.parsed = v;
                else if (k == "key")
                    c.key = v;
                else if (k == "message")
                    c.message = v;
            } while (r.eat(','));
            r.eat('}');
            cases.push_back(c);
        } while (r.eat(','));
        r.eat(']');
    } while (r.eat(','));
    return cases;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: options_test option_escaping.json option_refusals.json\n");
        return 2;
    }
    std::vector<Case> cases = read_vector(argv[1]);
    expect(cases.size() >= 10, "the vector has its cases");
    for (const Case &c : cases) {
        std::string got = carbon_tracker::Options().set("project_name", c.value).str();
        expect(got == "project_name=" + c.escaped, c.name + ": got " + got);
        // The library reads the value back and the next option is not swallowed by it.
        carbon_tracker::Tracker t(carbon_tracker::Options()
                                      .set("project_name", c.value)
                                      .set("country_iso_code", "FRA")
                                      .set("offline", true)
                                      .set("save_to_file", false));
        t.start();
        expect(t.stop().carbon_intensity_g_per_kwh == 56.039, c.name + ": country_iso_code swallowed");
    }

    // Numbers: shortest round-trip form, '.' whatever the locale; one template for every type.
    const char *de = std::setlocale(LC_ALL, "de_DE.UTF-8");
    expect(de != nullptr, "the de_DE.UTF-8 locale exists (scripts/test-all.sh generates it)");
    std::string n = carbon_tracker::Options()
                        .set("pue", 2.5)
                        .set("a", 4e-7)
                        .set("b", 0.1 + 0.2)
                        .set("c", 1.5f)
                        .set("d", 7L)
                        .set("e", 8ULL)
                        .set("f", short(-3))
                        .set("g", true)
                        .str();
    expect(n == "pue=2.5;a=4e-07;b=0.30000000000000004;c=1.5;d=7;e=8;f=-3;g=true", "numbers: " + n);
    carbon_tracker::Tracker t(carbon_tracker::Options()
                                  .set("offline", true)
                                  .set("save_to_file", false)
                                  .set("pue", 1.25)
                                  .set("measure_power_secs", 0.1 + 0.2)
                                  .set("country_iso_code", "FRA"));
    expect(t.describe().find("\"measure_power_secs\":0.30000000000000004") != std::string::npos,
           "the library reads 0.1 + 0.2 back exactly: " + t.describe());
    t.start();
    expect(t.stop().pue == 1.25, "pue 1.25 under de_DE");
    std::setlocale(LC_ALL, "C");

    try {
        carbon_tracker::Options().set("bad;key", "x");
        expect(false, "a key with ';' is rejected");
    } catch (const carbon_tracker::Error &e) {
        expect(e.status() == CT_ERR_INVALID_OPTION, "bad key: CT_ERR_INVALID_OPTION");
    }

    // What the string cannot carry: refused in the library's words, not cut at a NUL.
    std::vector<Case> refusals = read_vector(argv[2]);
    expect(refusals.size() >= 4, "the refusals vector has its cases");
    for (const Case &c : refusals) {
        try {
            carbon_tracker::Tracker t(carbon_tracker::Options()
                                          .set(c.key, c.value)
                                          .set("experiment_name", "after")
                                          .set("offline", true)
                                          .set("save_to_file", false));
            expect(false, c.name + ": accepted");
        } catch (const carbon_tracker::Error &e) {
            expect(e.status() == CT_ERR_INVALID_OPTION && e.what() == c.message, c.name + ": " + e.what());
        }
    }
    try { // an empty key: the library's words, as from C, Go and Python (set() threw its own)
        carbon_tracker::Tracker t(carbon_tracker::Options().set(" ", "x"));
        expect(false, "an empty key is refused");
    } catch (const carbon_tracker::Error &e) {
        expect(e.status() == CT_ERR_INVALID_OPTION && std::string(e.what()) == "options: part 1 has an empty key",
               std::string("empty key: ") + e.what());
    }
    try {
        carbon_tracker::Tracker t(std::string("project_name=a\0b;offline=true", 30));
        expect(false, "a NUL in a whole options string is refused");
    } catch (const carbon_tracker::Error &e) {
        expect(e.status() == CT_ERR_INVALID_OPTION &&
                   std::string(e.what()).find("NUL byte (at byte 14)") != std::string::npos,
               std::string("NUL in the string: ") + e.what());
    }

    if (failures) return 1;
    std::printf("options_test: %zu escaping cases, numbers and locale: ok\n", cases.size());
    return 0;
}
