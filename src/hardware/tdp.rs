//! CPU thermal design power from the embedded `cpu_power.csv` (CodeCarbon's table), with
//! CodeCarbon's three-step name matcher (docs/measuring.md):
//! 1. case-insensitive exact match;
//! 2. the same after normalising the name (drop `(R)`, cut at ` CPU @ `, drop ` CPU`, drop ` @ x.yzGHz`);
//! 3. token-set match: the table name's tokens and the model's tokens (lower-case, non-alphanumerics
//!    as spaces) share a token and one set contains the other — accepted only when exactly one row
//!    matches (ties give no match, as rapidfuzz's `token_set_ratio == 100` with a unique best).

use std::collections::BTreeSet;

/// CodeCarbon's fallback for an unknown CPU: 4 W per thread.
pub const DEFAULT_POWER_PER_THREAD_W: f64 = 4.0;

// CodeCarbon's `cpu_power.csv`, turned into `NAMES` and `ROWS` by build.rs.
include!(concat!(env!("OUT_DIR"), "/cpu_power_table.rs"));

/// The (name, TDP W) rows of the table. A few rows have a malformed TDP (`27.29.5`): they
/// still take part in matching (they can make a name ambiguous), but matching one gives no TDP.
pub fn table() -> impl ExactSizeIterator<Item = (&'static str, Option<f64>)> + Clone {
    ROWS.iter().map(|&(start, len, tdp_w)| {
        let name = &NAMES[start as usize..(start + len) as usize];
        (name, if tdp_w.is_nan() { None } else { Some(tdp_w) })
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct TdpMatch {
    pub name: String,
    pub tdp_w: f64,
}

/// One pass over the table per step, without allocating per row (this runs in the first
/// `start` of every process).
pub fn find(model: &str) -> Option<TdpMatch> {
    let hit = |i: usize| {
        let (name, tdp_w) = table().nth(i)?;
        Some(TdpMatch { name: name.to_string(), tdp_w: tdp_w? })
    };
    let exact = |m: &str| {
        let m = m.to_lowercase();
        table().position(|(n, _)| n.chars().flat_map(char::to_lowercase).eq(m.chars()))
    };
    if let Some(i) = exact(model) {
        return hit(i);
    }
    let normalised = normalise(model);
    if let Some(i) = exact(&normalised) {
        return hit(i);
    }
    let query = tokens(&normalised);
    if query.is_empty() {
        return None;
    }
    let mut found = None;
    let mut cleaned = String::new();
    for (i, (name, _)) in table().enumerate() {
        clean_into(name, &mut cleaned);
        let mut t: Vec<&str> = cleaned.split_whitespace().collect();
        t.sort_unstable();
        t.dedup();
        let in_query = t.iter().filter(|tok| query.contains(**tok)).count();
        // They share a token, and one set contains the other.
        if in_query > 0 && (in_query == t.len() || in_query == query.len()) {
            if found.is_some() {
                return None; // a tie: CodeCarbon refuses to guess
            }
            found = Some(i);
        }
    }
    found.and_then(hit)
}

/// Step 2 of the matcher.
fn normalise(model: &str) -> String {
    let mut m = model.replace("(R)", "");
    if let Some(i) = m.find(" CPU @ ") {
        m.truncate(i);
    }
    m = m.replace(" CPU", "");
    // Remove " @ <digits>.<digits>GHz".
    if let Some(at) = m.find(" @") {
        let rest = m[at + 2..].trim_start();
        let digits_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits_end);
        if num.contains('.') && tail.starts_with("GHz") {
            let end = m.len() - tail.len() + 3;
            m.replace_range(at..end, "");
        }
    }
    m.trim().to_string()
}

/// rapidfuzz's `default_process`, split into a token set.
fn tokens(s: &str) -> BTreeSet<String> {
    let mut cleaned = String::new();
    clean_into(s, &mut cleaned);
    cleaned.split_whitespace().map(str::to_string).collect()
}

/// Lower-case alphanumerics, everything else a space.
fn clean_into(s: &str, out: &mut String) {
    out.clear();
    out.extend(s.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(model: &str) -> Option<String> {
        find(model).map(|m| m.name)
    }

    #[test]
    fn table_is_embedded() {
        assert!(table().len() > 4800, "{}", table().len());
        assert!(table().any(|(n, t)| n == "AMD EPYC 7513" && t == Some(200.0)));
        // Malformed TDPs are kept as rows without a TDP.
        let bad: Vec<_> = table().filter(|(_, t)| t.is_none()).collect();
        assert!(!bad.is_empty() && bad.len() < 10, "{bad:?}");
        assert_eq!(find(bad[0].0), None);
    }

    #[test]
    fn generated_table_equals_the_csv() {
        let mut rdr = csv::Reader::from_reader(include_str!("../../data/cpu_power.csv").as_bytes());
        let parsed: Vec<(String, Option<f64>)> = rdr
            .records()
            .map(|r| r.unwrap())
            .map(|r| (r[0].trim().to_string(), r[1].trim().parse::<f64>().ok()))
            .collect();
        assert_eq!(parsed.len(), table().len());
        for (p, t) in parsed.iter().zip(table()) {
            assert_eq!((p.0.as_str(), p.1), t);
        }
    }

    #[test]
    fn codecarbon_test_vectors() {
        // tests/test_cpu.py:403-470 upstream.
        assert_eq!(name("AMD Ryzen 3 1200").as_deref(), Some("AMD Ryzen 3 1200"));
        assert_eq!(name("AMD Ryzen 1950").as_deref(), Some("AMD Ryzen Threadripper 1950"));
        assert_eq!(name("AMD Ryzen 1950x").as_deref(), Some("AMD Ryzen Threadripper 1950X"));
        assert_eq!(name("Intel(R) Core(TM) i7-8850H CPU @ 2.60GHz").as_deref(), Some("Intel Core i7-8850H"));
        assert_eq!(name("Intel(R) Xeon(R) Gold 6330N CPU @ 2.20Ghz").as_deref(), Some("Intel Xeon Gold 6330N"));
    }

    #[test]
    fn spec_examples_with_tdp() {
        let tdp = |m: &str| find(m).map(|x| x.tdp_w);
        assert_eq!(tdp("Intel(R) Xeon(R) Gold 5222 CPU @ 3.80GHz"), Some(105.0));
        assert_eq!(tdp("Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz"), Some(45.0));
        assert_eq!(tdp("AMD EPYC 7513 32-Core Processor"), Some(200.0));
        assert_eq!(tdp("12th Gen Intel(R) Core(TM) i7-12700K"), Some(190.0));
        assert_eq!(tdp("13th Gen Intel(R) Core(TM) i5-1335U"), Some(55.0));
        assert_eq!(tdp("Apple M1"), Some(10.0));
        // Some of the 15 models CodeCarbon 3.3.2 added (before: 4 W per thread), as it matches them.
        let added =
            [("Apple M2 Pro", 35.0), ("Apple M3 Max", 50.0), ("Apple M4", 20.0), ("Cortex-A72", 7.5), ("Cortex-A76", 12.0), ("Intel(R) Core(TM) Ultra 9 285K", 125.0)];
        for (model, watts) in added {
            assert_eq!(tdp(model), Some(watts), "{model}");
        }
    }

    #[test]
    fn ambiguous_names_do_not_match() {
        // This VM's model: many EPYC rows contain both tokens -> tie -> unknown (baseline section 5).
        assert_eq!(find("AMD EPYC"), None);
        assert_eq!(find(""), None);
        assert_eq!(find("Totally Unknown Chip 9000"), None);
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise("Intel(R) Xeon(R) Gold 5222 CPU @ 3.80GHz"), "Intel Xeon Gold 5222");
        assert_eq!(normalise("Intel(R) Core(TM) i7 @ 2.60GHz"), "Intel Core(TM) i7");
        assert_eq!(normalise("AMD EPYC 7513 32-Core Processor"), "AMD EPYC 7513 32-Core Processor");
    }
}
