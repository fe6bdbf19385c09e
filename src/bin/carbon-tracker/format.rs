//! Numbers for people: three significant digits and a unit that fits the size.

/// `x` with three significant digits, without an exponent (0.000123 → "0.000123").
pub fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() { "0".into() } else { x.to_string() };
    }
    let decimals = |v: f64| (2 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let d = decimals(x);
    let text = format!("{x:.d$}");
    // 9.9996 rounds to 10.00: one decimal fewer once rounding reached the next power of ten.
    match text.parse::<f64>() {
        Ok(r) if d > 0 && decimals(r) < d => format!("{x:.prec$}", prec = decimals(r)),
        _ => text,
    }
}

fn scaled(x: f64, units: &[(f64, &str)]) -> String {
    let (factor, unit) = units.iter().copied().find(|(f, _)| x.abs() >= *f).unwrap_or(*units.last().unwrap());
    format!("{} {unit}", sig3(x / factor))
}

/// kg of CO2e → "12.3 g CO2e".
pub fn mass_kg(kg: f64) -> String {
    if kg == 0.0 {
        return "0 g CO2e".into();
    }
    scaled(
        kg,
        &[
            (1e3, "t CO2e"),
            (1.0, "kg CO2e"),
            (1e-3, "g CO2e"),
            (1e-6, "mg CO2e"),
            (1e-9, "µg CO2e"),
            (1e-12, "ng CO2e"),
        ],
    )
}

/// kWh → "1.23 Wh".
pub fn energy_kwh(kwh: f64) -> String {
    if kwh == 0.0 {
        return "0 Wh".into();
    }
    scaled(kwh, &[(1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh"), (1e-9, "µWh"), (1e-12, "nWh")])
}

pub fn power_w(w: f64) -> String {
    if w == 0.0 {
        return "0 W".into();
    }
    scaled(w, &[(1e3, "kW"), (1.0, "W"), (1e-3, "mW"), (1e-6, "µW")])
}

/// Seconds → "2.51 s", "3 min 05 s", "1 h 02 min".
pub fn duration_s(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 60.0 {
        return format!("{} s", sig3(s));
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h == 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{h} h {m:02} min")
    }
}

/// Elapsed time as a clock, "0:07", "12:34", "1:02:03".
pub fn clock(s: f64) -> String {
    let t = s.max(0.0) as u64;
    let (h, m, sec) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

/// A count and its noun, singular or plural: "1 run", "2 runs", "0 jobs".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_words() {
        assert_eq!(count(1, "run", "runs"), "1 run");
        assert_eq!(count(0, "job", "jobs"), "0 jobs");
        assert_eq!(count(4, "node", "nodes"), "4 nodes");
    }

    #[test]
    fn units() {
        assert_eq!(sig3(0.000123456), "0.000123");
        assert_eq!(sig3(123.456), "123");
        assert_eq!(sig3(1.5), "1.50");
        assert_eq!(sig3(9.9996), "10.0");
        assert_eq!(sig3(0.099999), "0.100");
        assert_eq!(mass_kg(0.0123), "12.3 g CO2e");
        assert_eq!(mass_kg(2.5e-7), "250 µg CO2e");
        assert_eq!(energy_kwh(0.00123), "1.23 Wh");
        assert_eq!(energy_kwh(4.2e-6), "4.20 mWh");
        assert_eq!(energy_kwh(1.29e-12), "1.29 nWh");
        assert_eq!(mass_kg(7.2e-14), "0.0720 ng CO2e");
        assert_eq!(power_w(8.04), "8.04 W");
        assert_eq!(duration_s(2.514), "2.51 s");
        assert_eq!(duration_s(185.0), "3 min 05 s");
        assert_eq!(duration_s(3720.0), "1 h 02 min");
        assert_eq!(clock(754.9), "12:34");
    }
}
