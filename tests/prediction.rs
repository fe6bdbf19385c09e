//! Predictions end to end through the tracker, on loads whose answer is known: forced powers
//! (RAM 100 W, CPU 1 mW: the load model's variation is 1e-5 of the total) and a pace set by the
//! test on the test-hooks clock (each step moves the tracker's clock by its duration), so a
//! 1000-second run takes milliseconds and its totals are exact. The three loads of the issue:
//! steady, a warm-up then steady, a slow-down half way; predictions at 25, 50 and 75 %.
//!
//! The clock is the process's: the tests of this file take one lock and run one at a time.
//! `cargo test --test integration prediction:: -- --nocapture` prints the prediction table.

use crate::support;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carbon_tracker::config::{options, Config, Origin, Sources};
use carbon_tracker::log::Level;
use carbon_tracker::record::{BudgetState, Prediction, PredictionState};
use carbon_tracker::Tracker;

static CLOCK: Mutex<()> = Mutex::new(());

fn tracker(extra: &str) -> Tracker {
    let opts = format!(
        "offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=100;force_cpu_power=0.001;measure_power_secs=86400;log_level=warning;{extra}"
    );
    let sources = Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] };
    Tracker::with_config(Config::from_sources(&sources).unwrap())
}

fn advance(s: f64) {
    carbon_tracker::clock::advance_for_tests(Duration::from_secs_f64(s));
}

/// Runs `steps` steps of `step_s(k)` seconds, reporting progress after each, measuring every 5
/// steps (a flush, as a program would), predicting at each of `at`; returns the predictions and
/// the final totals (duration s, energy kWh, emissions kg).
fn run(
    t: &Tracker,
    steps: usize,
    step_s: impl Fn(usize) -> f64,
    at: &[usize],
) -> (Vec<(usize, Prediction)>, (f64, f64, f64)) {
    t.start().unwrap();
    t.set_progress(0.0, steps as f64).unwrap();
    let mut predictions = Vec::new();
    for k in 1..=steps {
        advance(step_s(k));
        t.set_progress(k as f64, steps as f64).unwrap();
        if k % 5 == 0 {
            t.flush().unwrap();
        }
        if at.contains(&k) {
            predictions.push((k, t.predict().unwrap()));
        }
    }
    let e = t.stop().unwrap();
    (predictions, (e.duration_s, e.energy_consumed_kwh, e.emissions_kg))
}

fn row(load: &str, k: usize, p: &Prediction, real: (f64, f64, f64)) -> String {
    format!(
        "| {load} | {k} % | {:.1} s [{:.1}, {:.1}] | {:.1} s | {:.3} Wh [{:.3}, {:.3}] | {:.3} Wh | {:.3} g [{:.3}, {:.3}] | {:.3} g |",
        p.predicted_duration_s,
        p.predicted_duration_low_s,
        p.predicted_duration_high_s,
        real.0,
        p.predicted_energy_kwh * 1e3,
        p.predicted_energy_low_kwh * 1e3,
        p.predicted_energy_high_kwh * 1e3,
        real.1 * 1e3,
        p.predicted_emissions_kg * 1e3,
        p.predicted_emissions_low_kg * 1e3,
        p.predicted_emissions_high_kg * 1e3,
        real.2 * 1e3
    )
}

fn covers(low: f64, high: f64, v: f64) -> bool {
    low <= v && v <= high
}

#[test]
fn three_loads_predicted_at_25_50_75_percent() {
    support::in_own_process(module_path!(), "three_loads_predicted_at_25_50_75_percent", || {
        let _clock = CLOCK.lock().unwrap_or_else(|p| p.into_inner());
        type Load = (&'static str, fn(usize) -> f64);
        let loads: [Load; 3] = [
            ("steady", |_| 10.0),
            ("warm-up then steady", |k| if k <= 10 { 30.0 } else { 10.0 }),
            ("slow-down half way", |k| if k <= 50 { 10.0 } else { 13.0 }),
        ];
        let mut table = vec![
            "| load | progress | duration predicted [90 % interval] | real | energy predicted [interval] | real | emissions predicted [interval] | real |".to_string(),
            "|---|---|---|---|---|---|---|---|".to_string(),
        ];
        for (name, step_s) in loads {
            let t = tracker("");
            let (predictions, real) = run(&t, 100, step_s, &[25, 50, 75]);
            assert_eq!(predictions.len(), 3);
            for (k, p) in &predictions {
                table.push(row(name, *k, p, real));
                assert_eq!(p.state, PredictionState::Ready, "{name} {k}");
                assert_eq!(p.progress, *k as f64 / 100.0);
                assert_eq!(p.budget_state, BudgetState::None);
                assert_eq!(p.confidence, 0.9);
                let checks = [
                    (
                        "duration",
                        p.predicted_duration_s,
                        p.predicted_duration_low_s,
                        p.predicted_duration_high_s,
                        real.0,
                    ),
                    ("energy", p.predicted_energy_kwh, p.predicted_energy_low_kwh, p.predicted_energy_high_kwh, real.1),
                    (
                        "emissions",
                        p.predicted_emissions_kg,
                        p.predicted_emissions_low_kg,
                        p.predicted_emissions_high_kg,
                        real.2,
                    ),
                ];
                for (what, point, low, high, real) in checks {
                    assert!(low <= point && point <= high, "{name} {k} %: {what} {low} {point} {high}");
                    if name == "steady" {
                        assert!(
                            (point / real - 1.0).abs() < 0.02,
                            "{name} {k} %: {what} predicted {point}, real {real}"
                        );
                    } else {
                        assert!(covers(low, high, real), "{name} {k} %: {what} [{low}, {high}] misses {real}");
                    }
                }
                // The time left is the predicted duration minus the time so far.
                assert!((p.time_left_s - (p.predicted_duration_s - p.measured_duration_s)).abs() < 1e-3, "{p:?}");
            }
            if name == "steady" || name == "warm-up then steady" {
                // Exact, not only within 2 %: a warm-up is left out.
                for (k, p) in &predictions {
                    assert!(
                        (p.predicted_duration_s / real.0 - 1.0).abs() < 1e-4,
                        "{name} {k}: {} vs {}",
                        p.predicted_duration_s,
                        real.0
                    );
                }
            }
            if name == "slow-down half way" {
                // At 75 % the new pace is followed: the point is the real total.
                let p = &predictions[2].1;
                assert!(
                    (p.predicted_duration_s / real.0 - 1.0).abs() < 1e-4,
                    "{} vs {}",
                    p.predicted_duration_s,
                    real.0
                );
            }
        }
        println!("\n{}\n", table.join("\n"));
    });
}

#[test]
fn not_enough_evidence_before_three_reports_and_one_percent() {
    support::in_own_process(module_path!(), "not_enough_evidence_before_three_reports_and_one_percent", || {
        let _clock = CLOCK.lock().unwrap_or_else(|p| p.into_inner());
        let t = tracker("");
        t.start().unwrap();
        assert_eq!(t.predict().unwrap().state, PredictionState::NoProgress);
        t.set_progress(0.0, 1000.0).unwrap();
        advance(1.0);
        t.set_progress(1.0, 1000.0).unwrap();
        advance(1.0);
        t.set_progress(2.0, 1000.0).unwrap();
        let p = t.predict().unwrap();
        assert_eq!(p.state, PredictionState::NotEnoughEvidence, "0.2 % of the work");
        assert!(p.predicted_energy_kwh.is_nan() && p.time_left_s.is_nan());
        assert_eq!(p.progress, 0.002);
        for k in 3..=10 {
            advance(1.0);
            t.set_progress(k as f64, 1000.0).unwrap();
        }
        let p = t.predict().unwrap();
        assert_eq!(p.state, PredictionState::Ready, "1 % of the work in 11 reports");
        assert!((p.predicted_duration_s - 1000.0).abs() < 0.1, "{p:?}");
        // The last step: the totals at 100 % are the measured ones, interval closed.
        advance(990.0);
        t.set_progress(1000.0, 1000.0).unwrap();
        let p = t.predict().unwrap();
        assert_eq!(p.predicted_energy_low_kwh, p.predicted_energy_high_kwh);
        assert!((p.predicted_energy_kwh / p.measured_energy_kwh - 1.0).abs() < 1e-6);
        assert!(p.time_left_s.abs() < 1e-3);
        t.stop().unwrap();
    });
}

#[test]
fn budgets_warn_once_when_predicted_and_once_when_exceeded_and_flush_goes_on() {
    support::in_own_process(
        module_path!(),
        "budgets_warn_once_when_predicted_and_once_when_exceeded_and_flush_goes_on",
        || {
            let _clock = CLOCK.lock().unwrap_or_else(|p| p.into_inner());
            let lines: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
            let sink = lines.clone();
            carbon_tracker::set_logger(Some(Arc::new(move |level, line: &str| {
                sink.lock().unwrap().push((level, line.to_string()))
            })));
            // 100 steps of 10 s at 100 W: 27.78 Wh. Budget 25 Wh: predicted to be exceeded from the
            // first prediction, exceeded at 90 %.
            let t = tracker("energy_budget_kwh=0.025;emissions_budget_kg=1");
            t.start().unwrap();
            let mut states = Vec::new();
            t.set_progress(0.0, 100.0).unwrap();
            for k in 1..=100 {
                advance(10.0);
                t.set_progress(k as f64, 100.0).unwrap();
                let p = t.predict().unwrap();
                assert_eq!((p.energy_budget_kwh, p.emissions_budget_kg), (0.025, 1.0));
                if states.last() != Some(&p.budget_state) {
                    states.push(p.budget_state);
                }
                if k % 10 == 0 {
                    t.flush().expect("a flush works whatever the budget");
                }
            }
            let e = t.stop().unwrap();
            carbon_tracker::set_logger(None);
            assert_eq!(states, [BudgetState::Below, BudgetState::PredictedToExceed, BudgetState::Exceeded]);
            assert!(e.energy_consumed_kwh > 0.0275, "{}", e.energy_consumed_kwh);
            let lines = lines.lock().unwrap();
            let budget: Vec<&(Level, String)> = lines.iter().filter(|(_, l)| l.contains("budget")).collect();
            assert_eq!(budget.len(), 2, "{budget:?}");
            assert_eq!(budget[0].0, Level::Warning);
            assert!(
                budget[0]
                    .1
                    .starts_with("energy budget: predicted to be exceeded: 0.02778 kWh at completion (90 % interval "),
                "{}",
                budget[0].1
            );
            assert!(budget[0].1.contains("for a budget of 0.025 kWh"), "{}", budget[0].1);
            assert!(budget[1].1.starts_with("energy budget exceeded: 0.025"), "{}", budget[1].1);
            assert!(budget[1].1.contains("at 90 % progress"), "{}", budget[1].1);
        },
    );
}

#[test]
fn exceeding_a_budget_is_seen_without_progress() {
    support::in_own_process(module_path!(), "exceeding_a_budget_is_seen_without_progress", || {
        let _clock = CLOCK.lock().unwrap_or_else(|p| p.into_inner());
        let t = tracker("emissions_budget_kg=1e-6");
        t.start().unwrap();
        assert_eq!(t.predict().unwrap().budget_state, BudgetState::Below);
        advance(3600.0); // 100 Wh at 56 g/kWh: 5.6 g
        let p = t.predict().unwrap();
        assert_eq!(p.budget_state, BudgetState::Exceeded);
        assert_eq!(p.state, PredictionState::NoProgress);
        t.stop().unwrap();
    });
}
