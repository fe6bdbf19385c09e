package carbontracker

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Option sets configuration keys of a tracker (CodeCarbon's config keys). Use the typed With*
// options, Set for any key, or an Options map.
type Option interface {
	apply(*settings)
}

type settings struct {
	keys   []string // in first-given order
	values map[string]string
}

func (s *settings) set(key, value string) {
	if s.values == nil {
		s.values = map[string]string{}
	}
	if _, ok := s.values[key]; !ok {
		s.keys = append(s.keys, key)
	}
	s.values[key] = value
}

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

// Set sets any configuration key to a value in the library's text form ("true", "1.5", "csv,api").
func Set(key, value string) Option { return optionFunc(func(s *settings) { s.set(key, value) }) }

func setFloat(key string, v float64) Option {
	// Shortest form that reads back as the same float64; never locale-dependent.
	return Set(key, strconv.FormatFloat(v, 'g', -1, 64))
}

func setBool(key string, v bool) Option { return Set(key, strconv.FormatBool(v)) }

// WithProjectName sets project_name.
func WithProjectName(name string) Option { return Set("project_name", name) }

// WithExperimentID sets experiment_id.
func WithExperimentID(id string) Option { return Set("experiment_id", id) }

// WithCountryISOCode sets country_iso_code (ISO 3166 alpha-3, e.g. "FRA").
func WithCountryISOCode(code string) Option { return Set("country_iso_code", code) }

// WithRegion sets region (e.g. a US state, a Canadian province, "SE3", a province of China).
func WithRegion(region string) Option { return Set("region", region) }

// WithOutputDir sets output_dir, where emissions.csv is written.
func WithOutputDir(dir string) Option { return Set("output_dir", dir) }

// WithSaveToFile sets save_to_file (write the CSV).
func WithSaveToFile(on bool) Option { return setBool("save_to_file", on) }

// WithOffline sets offline (no network at all; give a country).
func WithOffline(on bool) Option { return setBool("offline", on) }

// WithMeasurePower sets measure_power_secs, the interval between measurements.
func WithMeasurePower(every time.Duration) Option {
	return setFloat("measure_power_secs", every.Seconds())
}

// WithAPITimeout sets api_timeout_s, how long Stop waits for pending uploads.
func WithAPITimeout(d time.Duration) Option { return setFloat("api_timeout_s", d.Seconds()) }

// WithPUE sets pue, the power usage effectiveness applied to energies.
func WithPUE(pue float64) Option { return setFloat("pue", pue) }

// WithEmissionsEndpoint sets emissions_endpoint, a URL that receives the totals on flush/stop.
func WithEmissionsEndpoint(url string) Option { return Set("emissions_endpoint", url) }

// Options are configuration keys and values in the library's text form, e.g.
// Options{"country_iso_code": "FRA"}; applied in key order.
type Options map[string]string

func (o Options) apply(s *settings) {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.set(k, o[k])
	}
}

// String is the library's `key=value;...` form of the options.
func (o Options) String() string { return optionsString([]Option{o}) }

var escaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`)

// escapeValue escapes a value as the library's option parser reads it back (`\` and `;`;
// tests/vectors/option_escaping.json is shared with the C++ and Python bindings).
func escapeValue(v string) string { return escaper.Replace(v) }

func optionsString(opts []Option) string {
	text, _ := optionsText(opts)
	return text
}

// optionsText is the options string New passes to the library, or an ErrInvalidOption for what
// the string cannot carry: a NUL byte (C would cut the string there, losing the options after
// it) or a key with `=`, `;` or `\` (it would change the other options). The words are the
// library's (tests/vectors/option_refusals.json).
func optionsText(opts []Option) (string, error) {
	var s settings
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	parts := make([]string, 0, len(s.keys))
	var err error
	for _, k := range s.keys {
		v := s.values[k]
		if err == nil && strings.ContainsAny(k, "=;\\\x00") {
			err = &Error{Status: StatusInvalidOption, Message: "options: invalid key `" + strings.ReplaceAll(k, "\x00", `\0`) +
				"`: a key cannot contain `=`, `;`, `\\` or a NUL byte"}
		} else if err == nil && strings.Contains(v, "\x00") {
			err = &Error{Status: StatusInvalidOption, Message: "options: " + strings.ToLower(strings.TrimSpace(k)) + ": a value cannot contain a NUL byte"}
		}
		parts = append(parts, k+"="+escapeValue(v))
	}
	return strings.Join(parts, ";"), err
}
