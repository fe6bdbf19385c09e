//! The `--html` page: one self-contained file (inline CSS and SVG, no script, nothing fetched).
//! Per project: a line chart of each run's cumulative emissions against the time since its
//! start, a bar chart of each run's total in the order the runs started, and the table.

use std::fmt::Write;
use std::path::PathBuf;

use super::job::{self, Job, RegionSum};
use super::{started_text, Projects, Regions, Run};
use crate::format::{self, sig3};

/// Tableau 10: distinct, colour-blind-friendlier than a rainbow.
pub(super) const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const LEGEND_MAX: usize = 12;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Round tick step (1, 2 or 5 × 10^k) giving about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A unit for a mass axis: (kg per unit, name).
fn mass_unit(max_kg: f64) -> (f64, &'static str) {
    [(1.0, "kg"), (1e-3, "g"), (1e-6, "mg"), (1e-9, "µg")]
        .into_iter()
        .find(|(f, _)| max_kg >= *f)
        .unwrap_or((1e-9, "µg"))
}

fn time_unit(max_s: f64) -> (f64, &'static str) {
    if max_s >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if max_s >= 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn plot_w(&self) -> f64 {
        self.w - self.left - self.right
    }
    fn plot_h(&self) -> f64 {
        self.h - self.top - self.bottom
    }
}

/// Horizontal grid lines and y labels from 0 to `y_max` (in axis units).
fn y_axis(svg: &mut String, f: &Frame, y_max: f64, step: f64, label: &str) {
    let mut v = 0.0;
    while v <= y_max + step * 1e-9 {
        let y = f.top + f.plot_h() * (1.0 - v / y_max);
        let _ = write!(
            svg,
            r##"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" class="grid"/>"##,
            f.left,
            f.left + f.plot_w()
        );
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            f.left - 8.0,
            y + 4.0,
            tick_label(v, step)
        );
        v += step;
    }
    let _ = write!(
        svg,
        r##"<text transform="translate(16 {:.1}) rotate(-90)" class="axis" text-anchor="middle">{}</text>"##,
        f.top + f.plot_h() / 2.0,
        esc(label)
    );
}

/// The time axis of a line chart: ticks every `x_step` up to `x_max`, the title and the baseline.
/// The plot's bottom line, drawn over the bars and curves.
fn baseline(svg: &mut String, f: &Frame) {
    let _ = write!(
        svg,
        r##"<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" class="baseline"/>"##,
        l = f.left,
        r = f.left + f.plot_w(),
        b = f.top + f.plot_h()
    );
}

fn x_axis(svg: &mut String, f: &Frame, x_max: f64, x_step: f64, title: &str) {
    let mut v = 0.0;
    while v <= x_max + x_step * 1e-9 {
        let x = f.left + f.plot_w() * v / x_max;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" class="tickline"/>"##,
            f.top + f.plot_h(),
            f.top + f.plot_h() + 5.0
        );
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"##,
            f.top + f.plot_h() + 20.0,
            tick_label(v, x_step)
        );
        v += x_step;
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{title}</text>"##,
        f.left + f.plot_w() / 2.0,
        f.h - 8.0
    );
    baseline(svg, f);
}

/// Cumulative emissions against time since each run's start; every run begins at (0, 0). Each
/// run is named by `label` in the legend and tooltips.
fn line_chart(runs: &[Run], label: &dyn Fn(&Run) -> String) -> String {
    let legend_rows = runs.len().min(LEGEND_MAX + 1) as f64;
    let f = Frame {
        w: 900.0,
        h: (26.0 * legend_rows + 40.0).max(320.0),
        left: 72.0,
        right: 230.0,
        top: 20.0,
        bottom: 50.0,
    };
    let max_s = runs.iter().map(|r| r.total().duration_s).fold(0.0, f64::max);
    let max_kg = runs.iter().map(|r| r.total().emissions_kg).fold(0.0, f64::max);
    let (tf, tname) = time_unit(max_s);
    let (mf, mname) = mass_unit(max_kg);
    let x_step = nice_step(max_s / tf, 6.0);
    let y_step = nice_step(max_kg / mf, 5.0);
    let x_max = ((max_s / tf) / x_step).ceil().max(1.0) * x_step;
    let y_max = ((max_kg / mf) / y_step).ceil().max(1.0) * y_step;
    let px = |s: f64| f.left + f.plot_w() * (s / tf) / x_max;
    let py = |kg: f64| f.top + f.plot_h() * (1.0 - (kg / mf) / y_max);
    let mut svg = format!(
        r##"<svg viewBox="0 0 {} {}" role="img" aria-label="Cumulative emissions of each run over time" xmlns="http://www.w3.org/2000/svg">"##,
        f.w, f.h
    );
    y_axis(&mut svg, &f, y_max, y_step, &format!("emissions ({mname} CO2e)"));
    x_axis(&mut svg, &f, x_max, x_step, &format!("time since the run started ({tname})"));
    // Thinner lines and dots when there are many, so they stay apart.
    let (stroke, dot) = if runs.len() > 5 { (1.8, 3.0) } else { (2.5, 4.0) };
    for (i, run) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut pts = vec![(px(0.0), py(0.0))];
        pts.extend(run.rows.iter().map(|r| (px(r.duration_s), py(r.emissions_kg))));
        let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{stroke}" stroke-linejoin="round"/>"##,
            path.join(" ")
        );
        for (r, (x, y)) in run.rows.iter().zip(pts.iter().skip(1)) {
            let _ = write!(
                svg,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="{dot}" fill="{color}" stroke="#fff" stroke-width="1.5"><title>{} at {}: {}, {}</title></circle>"##,
                esc(&label(run)),
                format::duration_s(r.duration_s),
                format::mass_kg(r.emissions_kg),
                format::energy_kwh(r.energy_kwh)
            );
        }
    }
    legend(&mut svg, runs, label, f.w - f.right + 20.0, f.top + 6.0);
    svg.push_str("</svg>");
    svg
}

fn legend(svg: &mut String, runs: &[Run], label: &dyn Fn(&Run) -> String, x: f64, y0: f64) {
    for (i, run) in runs.iter().take(LEGEND_MAX).enumerate() {
        let y = y0 + i as f64 * 26.0;
        let color = PALETTE[i % PALETTE.len()];
        let _ = write!(svg, r##"<rect x="{x}" y="{:.1}" width="14" height="14" rx="3" fill="{color}"/>"##, y);
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" class="legend">{} <tspan class="muted">{}</tspan></text>"##,
            x + 22.0,
            y + 11.5,
            esc(&label(run)),
            esc(&format::mass_kg(run.total().emissions_kg))
        );
    }
    if runs.len() > LEGEND_MAX {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" class="legend muted">+ {} more runs</text>"##,
            x,
            y0 + LEGEND_MAX as f64 * 26.0 + 11.5,
            runs.len() - LEGEND_MAX
        );
    }
}

/// One bar of a bar chart.
pub(super) struct Bar {
    pub label: String,
    pub sublabel: String,
    pub kg: f64,
    pub color: &'static str,
    pub title: String,
}

/// Bars of emissions, in the given order.
pub(super) fn bars(items: &[Bar], aria: &str) -> String {
    let f = Frame { w: 900.0, h: 260.0, left: 72.0, right: 30.0, top: 16.0, bottom: 58.0 };
    let max_kg = items.iter().map(|b| b.kg).fold(0.0, f64::max);
    let (mf, mname) = mass_unit(max_kg);
    let y_step = nice_step(max_kg / mf, 4.0);
    let y_max = ((max_kg / mf) / y_step).ceil().max(1.0) * y_step;
    let mut svg = format!(
        r##"<svg viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"##,
        f.w,
        f.h,
        esc(aria)
    );
    y_axis(&mut svg, &f, y_max, y_step, &format!("{mname} CO2e"));
    // Slots at most 110 px wide, the group centred: a few bars do not spread over the width.
    let slot = (f.plot_w() / items.len().max(1) as f64).min(110.0);
    let x0 = f.left + (f.plot_w() - slot * items.len() as f64) / 2.0;
    let bar_w = (slot * 0.6).min(56.0);
    let label_every = (items.len() as f64 / 12.0).ceil().max(1.0) as usize;
    for (i, b) in items.iter().enumerate() {
        let h = f.plot_h() * (b.kg / mf) / y_max;
        let cx = x0 + slot * (i as f64 + 0.5);
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" rx="3" fill="{}"><title>{}</title></rect>"##,
            cx - bar_w / 2.0,
            f.top + f.plot_h() - h,
            b.color,
            esc(&b.title)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"##,
                f.top + f.plot_h() + 18.0,
                esc(&b.label)
            );
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{:.1}" class="tick muted" text-anchor="middle">{}</text>"##,
                f.top + f.plot_h() + 34.0,
                esc(&b.sublabel)
            );
        }
    }
    baseline(&mut svg, &f);
    svg.push_str("</svg>");
    svg
}

/// Each run's total, in the order the runs started.
fn bar_chart(runs: &[Run]) -> String {
    let items: Vec<Bar> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let t = run.total();
            Bar {
                label: run.short_id().to_string(),
                sublabel: run.started().map(|s| s.format("%m-%d %H:%M").to_string()).unwrap_or_default(),
                kg: t.emissions_kg,
                color: PALETTE[i % PALETTE.len()],
                title: format!(
                    "run {} started {}: {} in {}, {}",
                    run.run_id,
                    started_text(run),
                    format::mass_kg(t.emissions_kg),
                    format::duration_s(t.duration_s),
                    format::energy_kwh(t.energy_kwh)
                ),
            }
        })
        .collect();
    bars(&items, "Emissions of each run")
}

fn run_table(runs: &[Run]) -> String {
    let mut t = String::from(
        "<table><thead><tr><th></th><th>run</th><th>started</th><th>duration</th><th>energy</th><th>emissions</th>\
<th>intensity</th><th>rows</th><th>mode</th><th>tracker</th></tr></thead><tbody>",
    );
    for (i, run) in runs.iter().enumerate() {
        let r = run.total();
        let _ = write!(
            t,
            r##"<tr><td><span class="swatch" style="background:{}"></span></td><td title="{}"><code>{}</code></td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>"##,
            PALETTE[i % PALETTE.len()],
            esc(&run.run_id),
            esc(run.short_id()),
            esc(&started_text(run)),
            format::duration_s(r.duration_s),
            format::energy_kwh(r.energy_kwh),
            format::mass_kg(r.emissions_kg),
            run.intensity_g_per_kwh().map(|g| format!("{} g/kWh", sig3(g))).unwrap_or_else(|| "–".into()),
            run.rows.len(),
            esc(&r.tracking_mode),
            esc(&r.tracker_version)
        );
    }
    t.push_str("</tbody></table>");
    t
}

pub(super) const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0; background: #f4f6f4; color: #1f2a24; }
main { max-width: 980px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; }
header p { margin: 0; color: #5b6b62; }
.kpis { display: flex; gap: 14px; margin: 20px 0 8px; flex-wrap: wrap; }
.kpi { background: #fff; border-radius: 10px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); min-width: 150px; }
.kpi b { display: block; font-size: 22px; color: #2f6b4f; }
.kpi span { color: #5b6b62; font-size: 13px; }
section { background: #fff; border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.08); padding: 18px 22px 20px; margin-top: 22px; }
section h2 { margin: 0 0 2px; font-size: 20px; }
section h3 { margin: 18px 0 4px; font-size: 14px; font-weight: 600; color: #5b6b62; text-transform: uppercase; letter-spacing: .04em; }
.sub { color: #5b6b62; margin: 0 0 6px; font-size: 14px; }
svg { width: 100%; height: auto; display: block; }
svg text { font-family: inherit; }
.grid { stroke: #e6ebe8; stroke-width: 1; }
.baseline { stroke: #9aa8a0; stroke-width: 1.2; }
.tickline { stroke: #9aa8a0; }
.tick { font-size: 12px; fill: #5b6b62; }
.axis { font-size: 13px; fill: #3b4a42; }
.legend { font-size: 13px; fill: #1f2a24; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { fill: #7a8a81; color: #7a8a81; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin-top: 6px; }
th { text-align: left; color: #5b6b62; font-weight: 600; border-bottom: 1px solid #dde3df; padding: 6px 8px; }
td { border-bottom: 1px solid #eef1ef; padding: 6px 8px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; }
footer { color: #7a8a81; font-size: 12px; margin-top: 24px; }
"#;

/// A table of regions (summed over runs).
fn region_rows(regions: &[RegionSum], total_kwh: f64) -> String {
    let mut t = String::from(
        "<table><thead><tr><th>region</th><th>calls</th><th>runs</th><th>time in calls</th><th>open</th><th>energy</th>\
<th>emissions</th><th>share of energy</th></tr></thead><tbody>",
    );
    for r in regions {
        let x = &r.totals;
        let _ = write!(
            t,
            r##"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"##,
            esc(&x.name),
            x.calls,
            r.runs,
            format::duration_s(x.duration_s),
            format::duration_s(x.wall_s),
            format::energy_kwh(x.energy_consumed_kwh),
            format::mass_kg(x.emissions_kg),
            if total_kwh > 0.0 { format!("{:.1} %", x.energy_consumed_kwh / total_kwh * 100.0) } else { "–".into() }
        );
    }
    t.push_str("</tbody></table>");
    t
}

fn region_bars(regions: &[RegionSum]) -> String {
    let items: Vec<Bar> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| Bar {
            label: r.totals.name.clone(),
            sublabel: format!("{} calls", r.totals.calls),
            kg: r.totals.emissions_kg,
            color: PALETTE[i % PALETTE.len()],
            title: format!(
                "{}: {}, {} over {} open",
                r.totals.name,
                format::mass_kg(r.totals.emissions_kg),
                format::energy_kwh(r.totals.energy_consumed_kwh),
                format::duration_s(r.totals.wall_s)
            ),
        })
        .collect();
    bars(&items, "Emissions of each region")
}

/// The colour of a job's node (its place in the job's nodes).
fn node_color(j: &Job, name: &str, id: Option<u32>) -> &'static str {
    let i = j.nodes.iter().position(|n| n.name == name && n.node_id == id).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// A job's ranks, one row each, with their node's colour.
fn rank_table(j: &Job) -> String {
    let mut t = String::from("<table><thead><tr><th></th><th>rank</th><th>node</th><th>local rank</th><th>run</th><th>duration</th><th>energy</th><th>emissions</th></tr></thead><tbody>");
    for r in &j.ranks {
        let x = r.run.total();
        let _ = write!(
            t,
            r##"<tr><td><span class="swatch" style="background:{}"></span></td><td class="n">{}</td><td>{}</td><td class="n">{}</td><td title="{}"><code>{}</code></td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"##,
            node_color(j, &r.id.node, r.id.node_id()),
            esc(&r.rank_text()),
            esc(&r.id.node),
            r.id.local_rank().map(|l| l.to_string()).unwrap_or_else(|| "–".into()),
            esc(&r.run.run_id),
            esc(r.run.short_id()),
            format::duration_s(x.duration_s),
            format::energy_kwh(x.energy_kwh),
            format::mass_kg(x.emissions_kg)
        );
    }
    t.push_str("</tbody></table>");
    t
}

/// A job: its total, a chart per node and per rank, each rank's emissions over time, its regions.
fn job_section(j: &Job) -> String {
    let node_color = |name: &str, id: Option<u32>| node_color(j, name, id);
    let node_bars: Vec<Bar> = j
        .nodes
        .iter()
        .map(|n| Bar {
            label: n.name.clone(),
            sublabel: format!("ranks {}", job::ranks_text(&n.ranks)),
            kg: n.emissions_kg,
            color: node_color(&n.name, n.node_id),
            title: format!(
                "node {}: {}, {}",
                n.name,
                format::mass_kg(n.emissions_kg),
                format::energy_kwh(n.energy_kwh)
            ),
        })
        .collect();
    let rank_bars: Vec<Bar> = j
        .ranks
        .iter()
        .map(|r| {
            let t = r.run.total();
            Bar {
                label: format!("rank {}", r.rank_text()),
                sublabel: r.id.node.clone(),
                kg: t.emissions_kg,
                color: node_color(&r.id.node, r.id.node_id()),
                title: format!(
                    "rank {} on {} (run {}): {} in {}, {}",
                    r.rank_text(),
                    r.id.node,
                    r.run.run_id,
                    format::mass_kg(t.emissions_kg),
                    format::duration_s(t.duration_s),
                    format::energy_kwh(t.energy_kwh)
                ),
            }
        })
        .collect();
    let runs: Vec<Run> = j.ranks.iter().map(|r| r.run.clone()).collect();
    let rank_of: std::collections::HashMap<&str, String> =
        j.ranks.iter().map(|r| (r.run.run_id.as_str(), format!("rank {} ({})", r.rank_text(), r.id.node))).collect();
    let label = |run: &Run| rank_of.get(run.run_id.as_str()).cloned().unwrap_or_else(|| run.short_id().to_string());
    let mut h = format!(
        "<section><h2>Job {}</h2><p class=\"sub\">project {} · {} on {} · {} · {} · {} wall time</p>\
<h3>Emissions per node</h3>{}<h3>Emissions per rank (coloured by node)</h3>{}<h3>Emissions over time, per rank</h3>{}",
        esc(&j.id),
        esc(&j.project),
        format::count(j.ranks.len(), "rank", "ranks"),
        format::count(j.nodes.len(), "node", "nodes"),
        format::mass_kg(j.emissions_kg()),
        format::energy_kwh(j.energy_kwh()),
        format::duration_s(j.wall_s()),
        bars(&node_bars, "Emissions of each node"),
        bars(&rank_bars, "Emissions of each rank"),
        line_chart(&runs, &label)
    );
    if !j.regions.is_empty() {
        let _ = write!(
            h,
            "<h3>Regions, summed over the ranks</h3>{}{}",
            region_bars(&j.regions),
            region_rows(&j.regions, j.energy_kwh())
        );
    }
    let _ = write!(h, "<h3>Ranks</h3>{}</section>", rank_table(j));
    h
}

/// "5 runs in 1 job and 2 other projects", "4 runs in 4 projects", "6 runs in 1 job".
fn runs_in(runs: usize, jobs: usize, projects: usize) -> String {
    let runs = format::count(runs, "run", "runs");
    match (jobs, projects) {
        (0, p) => format!("{runs} in {}", format::count(p, "project", "projects")),
        (j, 0) => format!("{runs} in {}", format::count(j, "job", "jobs")),
        (j, p) => {
            format!(
                "{runs} in {} and {}",
                format::count(j, "job", "jobs"),
                format::count(p, "other project", "other projects")
            )
        }
    }
}

pub fn page(projects: &Projects, jobs: &[Job], regions: &Regions, files: &[PathBuf]) -> String {
    let mut all: Vec<&Run> = projects.values().flatten().collect();
    all.extend(jobs.iter().flat_map(|j| j.ranks.iter().map(|r| &r.run)));
    let energy: f64 = all.iter().map(|r| r.total().energy_kwh).sum();
    let emissions: f64 = all.iter().map(|r| r.total().emissions_kg).sum();
    let duration: f64 = all.iter().map(|r| r.total().duration_s).sum();
    let file_list: Vec<String> =
        files.iter().map(|f| format!("<code>{}</code>", esc(&f.display().to_string()))).collect();
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Emissions report</title><style>{STYLE}</style></head><body><main>\
<header><h1>Emissions report</h1><p>{}, from {}</p></header>\
<div class=\"kpis\"><div class=\"kpi\"><b>{}</b><span>emissions</span></div><div class=\"kpi\"><b>{}</b><span>energy</span></div>\
<div class=\"kpi\"><b>{}</b><span>tracked time</span></div></div>",
        runs_in(all.len(), jobs.len(), projects.len()),
        file_list.join(", "),
        format::mass_kg(emissions),
        format::energy_kwh(energy),
        format::duration_s(duration)
    );
    for j in jobs {
        h.push_str(&job_section(j));
    }
    for (name, runs) in projects {
        let e: f64 = runs.iter().map(|r| r.total().emissions_kg).sum();
        let kwh: f64 = runs.iter().map(|r| r.total().energy_kwh).sum();
        let _ = write!(
            h,
            "<section><h2>{}</h2><p class=\"sub\">{} · {} · {}</p><h3>Emissions over time, per run</h3>{}",
            esc(if name.is_empty() { "(no project name)" } else { name }),
            format::count(runs.len(), "run", "runs"),
            format::mass_kg(e),
            format::energy_kwh(kwh),
            line_chart(runs, &|r: &Run| r.short_id().to_string())
        );
        if runs.len() > 1 {
            let _ = write!(h, "<h3>Emissions of each run, in order</h3>{}", bar_chart(runs));
        }
        let sums = job::sum_regions(runs.iter().map(|r| r.run_id.as_str()), regions);
        if !sums.is_empty() {
            let _ = write!(h, "<h3>Regions</h3>{}{}", region_bars(&sums), region_rows(&sums, kwh));
        }
        let _ = write!(h, "<h3>Runs</h3>{}</section>", run_table(runs));
    }
    let _ = writeln!(
        h,
        "<footer>Generated by carbon-tracker {} on {}. Emissions in CO2-equivalent; rows of a run are cumulative totals since its start.</footer></main></body></html>",
        carbon_tracker::VERSION,
        chrono::Local::now().format("%Y-%m-%d %H:%M")
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subtitle_counts_in_words() {
        assert_eq!(runs_in(4, 0, 4), "4 runs in 4 projects");
        assert_eq!(runs_in(1, 0, 1), "1 run in 1 project");
        assert_eq!(runs_in(6, 1, 0), "6 runs in 1 job");
        assert_eq!(runs_in(8, 2, 1), "8 runs in 2 jobs and 1 other project");
    }

    #[test]
    fn steps() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.7, 5.0), 0.2);
        assert_eq!(nice_step(3.0, 6.0), 0.5);
        assert_eq!(mass_unit(2.4e-7), (1e-9, "µg"));
        assert_eq!(mass_unit(0.004), (1e-3, "g"));
        assert_eq!(tick_label(0.4, 0.2), "0.4");
    }
}
