//! Measuring an interval (background ticks, flushes, stop) and the prediction it feeds.

use super::*;

impl Inner {
    pub(super) fn progress_log(&self) -> MutexGuard<'_, progress::ProgressLog> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn has_budget(&self) -> bool {
        self.config.energy_budget_kwh.is_some() || self.config.emissions_budget_kg.is_some()
    }

    /// The prediction as of the last measurement.
    pub(super) fn prediction(&self, r: &Running) -> Prediction {
        let since_start = |t: Instant| t.saturating_duration_since(r.started_at).as_secs_f64();
        let view = self.progress_log().view();
        let (points, total) = view.as_ref().map_or((&[][..], 1.0), |(p, t)| (&p[..], *t));
        let f = prediction::forecast(&prediction::Inputs {
            progress: points,
            total,
            measurements: &r.measurements,
            now_s: since_start(crate::clock::now()),
            measured_energy_kwh: r.totals.energy_kwh,
            measured_emissions_kg: r.totals.emissions_kg,
        });
        let mut p = Prediction {
            state: f.state,
            budget_state: crate::record::BudgetState::None,
            progress: f.progress,
            measured_duration_s: since_start(r.last_measured),
            measured_energy_kwh: r.totals.energy_kwh,
            measured_emissions_kg: r.totals.emissions_kg,
            predicted_duration_s: f.duration_s.point,
            predicted_duration_low_s: f.duration_s.low,
            predicted_duration_high_s: f.duration_s.high,
            predicted_energy_kwh: f.energy_kwh.point,
            predicted_energy_low_kwh: f.energy_kwh.low,
            predicted_energy_high_kwh: f.energy_kwh.high,
            predicted_emissions_kg: f.emissions_kg.point,
            predicted_emissions_low_kg: f.emissions_kg.low,
            predicted_emissions_high_kg: f.emissions_kg.high,
            time_left_s: f.time_left_s,
            confidence: prediction::CONFIDENCE,
            energy_budget_kwh: self.config.energy_budget_kwh.unwrap_or(0.0),
            emissions_budget_kg: self.config.emissions_budget_kg.unwrap_or(0.0),
        };
        p.budget_state = budget::state(&p);
        p
    }

    /// Background tick: false ends the ticking.
    pub(super) fn tick(&self) -> bool {
        let mut phase = self.lock();
        match &mut *phase {
            // A forked child's copy measures nothing (its parent goes on measuring).
            Phase::Running(r) if r.forked() => false,
            Phase::Running(r) => {
                let now = self.measure(r, false);
                r.ticks += 1;
                let (duration_s, totals, intensity) = (r.duration_s(now), &r.totals, &r.intensity);
                let total = || totals.snapshot(duration_s, intensity, self.config.pue);
                for sink in &mut r.sinks {
                    sink.on_tick(r.ticks, &total);
                }
                true
            }
            _ => false,
        }
    }

    /// Takes in a finished location lookup and the latest live intensity, if any.
    pub(super) fn refresh_intensity(&self, r: &mut Running) {
        let c = &self.config;
        if r.location_pending {
            match emissions::location::get(c) {
                Some(located) => {
                    r.table_intensity = emissions::resolve_located(&Place::of(c), Some(&located), &self.log);
                    r.intensity = r.table_intensity.clone();
                    r.location_pending = false;
                    r.run = Arc::new(metadata::run_info(c, &self.run_id, r.meters.plan(), &r.intensity));
                    for sink in &mut r.sinks {
                        sink.on_run_changed(&r.run);
                    }
                }
                None => self.log.info("location lookup still running: the world average applies to this interval"),
            }
        }
        if let Some(Secret(token)) = &c.electricitymaps_api_token {
            let live = r
                .table_intensity
                .live_zone(&Place::of(c))
                .and_then(|zone| emissions::electricitymaps::current(&c.electricitymaps_api_url, token, &zone, &self.log));
            r.intensity = r.table_intensity.clone();
            if let Some(g) = live {
                r.intensity.g_per_kwh = g;
                r.intensity.source = "Electricity Maps (live)".into();
            }
        }
    }

    /// Measures the interval since the last measurement, up to now (returned). `last`: the
    /// final measurement (stop). Region boundaries are read at the same instant.
    pub(super) fn measure(&self, r: &mut Running, last: bool) -> Instant {
        self.refresh_intensity(r);
        let (boundary, now, still_open) = self.regions.boundary(last);
        if !still_open.is_empty() {
            self.log.warning(format!("regions still open at stop, ended there: {}", still_open.join(", ")));
        }
        let before = r.totals;
        let dt_s = now.saturating_duration_since(r.last_measured).as_secs_f64();
        let mut sample = r.meters.measure(dt_s, last, &self.log);
        if let Some(node) = &mut r.node {
            sample = node.apportion(sample, r.meters.gpu_intervals(), last);
        }
        // Cumulative totals never go down (CSV, Prometheus and OTLP counters, the API): no
        // source gives a negative interval; should one, it is not applied, and said.
        for (what, kwh) in
            [("CPU", &mut sample.cpu_energy_kwh), ("GPU", &mut sample.gpu_energy_kwh), ("RAM", &mut sample.ram_energy_kwh)]
        {
            if kwh.is_nan() || *kwh < 0.0 {
                self.log.warning(format!("a negative or undefined {what} energy ({kwh:e} kWh) for an interval: counted as 0"));
                *kwh = 0.0;
            }
        }
        r.totals.add(dt_s, &sample, self.config.pue, self.config.wue_l_per_kwh, &r.intensity);
        r.last_measured = now;
        self.regions.attribute(&boundary, &r.totals.since(&before));
        let at_s = now.saturating_duration_since(r.started_at).as_secs_f64();
        r.measurements.push(progress::EnergyPoint { at_s, energy_kwh: r.totals.energy_kwh, emissions_kg: r.totals.emissions_kg });
        if self.has_budget() {
            let p = self.prediction(r);
            r.budget.check(&p, &self.log);
        }
        if self.log.enabled(crate::log::Level::Debug) {
            self.log.debug(format!(
                "measured {dt_s:.3} s: CPU {:.3e} kWh, GPU {:.3e} kWh, RAM {:.3e} kWh",
                sample.cpu_energy_kwh, sample.gpu_energy_kwh, sample.ram_energy_kwh
            ));
        }
        now
    }
}
