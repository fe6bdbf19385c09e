//! Numbers printed exactly as Python's `repr` (what pandas writes into CodeCarbon's CSV):
//! shortest round-trip digits, fixed notation for decimal exponents -4..=15, else `1e-05` style.

#[cfg(test)]
pub fn float(x: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, x);
    s
}

/// [`float`], appended to `out`.
pub fn push_float(out: &mut String, x: f64) {
    out.push_str(&float_repr(x));
}

fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-9.92104039994053e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1; // value = 0.DIGITS × 10^decpt
    let sign = if x < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let rest = if n > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= n {
        format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::float;

    #[test]
    fn matches_python_repr() {
        // Generated with CPython 3.11 `repr`.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (20.0, "20.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.484752137342498, "1.484752137342498"),
            (9.92104039994053e-07, "9.92104039994053e-07"),
            (3.005414909001047, "3.005414909001047"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1.2345e-5, "1.2345e-05"),
            (23.540584564208984, "23.540584564208984"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2.5e-10, "-2.5e-10"),
            (100.0, "100.0"),
            (0.056039, "0.056039"),
            (1e22, "1e+22"),
            (12345.678, "12345.678"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(float(*x), *want, "{x:e}");
        }
    }

    #[test]
    fn round_trips() {
        for x in [1.0 / 3.0, 2.0f64.sqrt() * 1e-9, 6.02214076e23, 1.602176634e-19] {
            assert_eq!(float(x).parse::<f64>().unwrap(), x);
        }
    }
}
