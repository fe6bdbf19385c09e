//! One report for a job: the runs of its ranks (named by their run files) grouped into the job's
//! total, one line per node and one per rank, and its regions summed over the ranks.

use std::collections::{BTreeMap, HashMap};

use carbon_tracker::files::RunIdentity as Identity;
use carbon_tracker::RegionTotals;

use super::{unit, Projects, Run};

/// A run of a job, with what its run file says.
#[derive(Debug, Clone)]
pub struct RankRun {
    pub run: Run,
    pub id: Identity,
}

impl RankRun {
    pub fn rank_text(&self) -> String {
        self.id.rank().map(|r| r.to_string()).unwrap_or_else(|| "?".into())
    }
    /// When the run ended (its start plus its last row's duration).
    fn end_unix_s(&self) -> f64 {
        self.id.started_unix_s + self.run.total().duration_s
    }
}

/// A node of a job: its ranks' totals summed.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub node_id: Option<u32>,
    pub ranks: Vec<u32>,
    pub energy_kwh: f64,
    pub emissions_kg: f64,
}

/// A region summed over runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionSum {
    /// The totals summed (min and max over every run's calls).
    pub totals: RegionTotals,
    /// Runs (ranks) that entered it.
    pub runs: usize,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub project: String,
    /// Sorted by rank, then start.
    pub ranks: Vec<RankRun>,
    /// In the order of their first rank.
    pub nodes: Vec<Node>,
    pub regions: Vec<RegionSum>,
}

impl Job {
    pub fn energy_kwh(&self) -> f64 {
        self.ranks.iter().map(|r| r.run.total().energy_kwh).sum()
    }
    pub fn emissions_kg(&self) -> f64 {
        self.ranks.iter().map(|r| r.run.total().emissions_kg).sum()
    }
    /// From the first rank's start to the last rank's end.
    pub fn wall_s(&self) -> f64 {
        let start = self.ranks.iter().map(|r| r.id.started_unix_s).fold(f64::INFINITY, f64::min);
        let end = self.ranks.iter().map(RankRun::end_unix_s).fold(f64::NEG_INFINITY, f64::max);
        if end >= start {
            end - start
        } else {
            0.0
        }
    }
}

/// Sums the regions of `run_ids` (each run's last region file), in the order first seen.
pub fn sum_regions<'a>(
    run_ids: impl Iterator<Item = &'a str>,
    regions: &HashMap<String, Vec<RegionTotals>>,
) -> Vec<RegionSum> {
    let mut order: Vec<String> = Vec::new();
    let mut sums: HashMap<String, RegionSum> = HashMap::new();
    for run_id in run_ids {
        for r in regions.get(run_id).into_iter().flatten() {
            let s = sums.entry(r.name.clone()).or_insert_with(|| {
                order.push(r.name.clone());
                let mut totals = RegionTotals::default();
                (totals.name, totals.min_duration_s) = (r.name.clone(), f64::INFINITY);
                RegionSum { totals, runs: 0 }
            });
            let t = &mut s.totals;
            s.runs += 1;
            t.calls += r.calls;
            t.open_calls += r.open_calls;
            t.duration_s += r.duration_s;
            if r.calls > 0 {
                t.min_duration_s = t.min_duration_s.min(r.min_duration_s);
            }
            t.max_duration_s = t.max_duration_s.max(r.max_duration_s);
            t.wall_s += r.wall_s;
            t.cpu_energy_kwh += r.cpu_energy_kwh;
            t.gpu_energy_kwh += r.gpu_energy_kwh;
            t.ram_energy_kwh += r.ram_energy_kwh;
            t.energy_consumed_kwh += r.energy_consumed_kwh;
            t.emissions_kg += r.emissions_kg;
            t.water_consumed_l += r.water_consumed_l;
        }
    }
    order
        .into_iter()
        .filter_map(|n| sums.remove(&n))
        .map(|mut s| {
            if !s.totals.min_duration_s.is_finite() {
                s.totals.min_duration_s = 0.0;
            }
            s
        })
        .collect()
}

/// Takes the runs that are ranks of a job (their run file names one) out of `projects`.
pub fn take_jobs(
    projects: &mut Projects,
    identities: &[Identity],
    regions: &HashMap<String, Vec<RegionTotals>>,
) -> Vec<Job> {
    let ids: HashMap<&str, &Identity> = identities.iter().map(|i| (i.run_id.as_str(), i)).collect();
    let mut jobs: BTreeMap<String, Vec<RankRun>> = BTreeMap::new();
    for runs in projects.values_mut() {
        runs.retain(|run| match ids.get(run.run_id.as_str()).filter(|i| i.job.is_some()) {
            Some(id) => {
                jobs.entry(id.job_id().unwrap_or_default().to_string())
                    .or_default()
                    .push(RankRun { run: run.clone(), id: (*id).clone() });
                false
            }
            None => true,
        });
    }
    projects.retain(|_, runs| !runs.is_empty());
    jobs.into_iter()
        .map(|(id, mut ranks)| {
            ranks.sort_by(|a, b| {
                a.id.rank().cmp(&b.id.rank()).then(a.id.started_unix_s.total_cmp(&b.id.started_unix_s))
            });
            let mut nodes: Vec<Node> = Vec::new();
            for r in &ranks {
                let i = match nodes.iter().position(|n| n.name == r.id.node && n.node_id == r.id.node_id()) {
                    Some(i) => i,
                    None => {
                        nodes.push(Node {
                            name: r.id.node.clone(),
                            node_id: r.id.node_id(),
                            ranks: vec![],
                            energy_kwh: 0.0,
                            emissions_kg: 0.0,
                        });
                        nodes.len() - 1
                    }
                };
                let n = &mut nodes[i];
                n.ranks.extend(r.id.rank());
                n.energy_kwh += r.run.total().energy_kwh;
                n.emissions_kg += r.run.total().emissions_kg;
            }
            let mut projects: Vec<&str> = ranks.iter().map(|r| r.run.project.as_str()).collect();
            projects.dedup();
            let regions = sum_regions(ranks.iter().map(|r| r.run.run_id.as_str()), regions);
            Job { id, project: projects.join(", "), ranks, nodes, regions }
        })
        .collect()
}

/// `0-2,5`: ranks as ranges.
pub fn ranks_text(ranks: &[u32]) -> String {
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", sorted[i], sorted[j]) } else { sorted[i].to_string() });
        i = j + 1;
    }
    parts.join(",")
}

/// A column of numbers in one unit with one number of decimals, so that the figures line up and
/// a total reads as the sum of the lines above it: 4 significant digits on the largest.
pub struct NumberColumn {
    factor: f64,
    decimals: usize,
    pub unit: &'static str,
}

impl NumberColumn {
    pub fn new(max: f64, units: &[(f64, &'static str)]) -> NumberColumn {
        let (factor, unit) = unit(max, units);
        let scaled = max / factor;
        let decimals = if scaled > 0.0 { (3 - scaled.log10().floor() as i32).clamp(0, 9) as usize } else { 0 };
        NumberColumn { factor, decimals, unit }
    }
    pub fn energy(max_kwh: f64) -> NumberColumn {
        NumberColumn::new(max_kwh, &[(1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh"), (1e-9, "µWh")])
    }
    pub fn mass(max_kg: f64) -> NumberColumn {
        NumberColumn::new(max_kg, &[(1.0, "kg"), (1e-3, "g"), (1e-6, "mg"), (1e-9, "µg")])
    }
    pub fn fmt(&self, x: f64) -> String {
        format!("{:.*}", self.decimals, x / self.factor)
    }

    /// `values` and their total, rounded so that the rows shown add up to the total shown
    /// (largest remainders: the rows closest to rounding up take the units the floors lost).
    pub fn fmt_summing(&self, values: &[f64]) -> (Vec<String>, String) {
        let scale = 10f64.powi(self.decimals as i32) / self.factor;
        let scaled: Vec<f64> = values.iter().map(|v| v * scale).collect();
        let mut units: Vec<i64> = scaled.iter().map(|x| x.floor() as i64).collect();
        let total = scaled.iter().sum::<f64>().round() as i64;
        let mut by_remainder: Vec<usize> = (0..values.len()).collect();
        by_remainder.sort_by(|&a, &b| (scaled[b] - scaled[b].floor()).total_cmp(&(scaled[a] - scaled[a].floor())));
        let missing = (total - units.iter().sum::<i64>()).clamp(0, values.len() as i64) as usize;
        for &i in by_remainder.iter().take(missing) {
            units[i] += 1;
        }
        let text = |u: i64| format!("{:.*}", self.decimals, u as f64 / 10f64.powi(self.decimals as i32));
        (units.into_iter().map(text).collect(), text(total))
    }
}

/// Lines of cells, aligned: `numeric` columns to the right; a rule before the last line when
/// `total_last`.
pub fn aligned(header: &[String], lines: &[Vec<String>], numeric: &dyn Fn(usize) -> bool, total_last: bool) -> String {
    let n = header.len();
    let widths: Vec<usize> = (0..n)
        .map(|c| lines.iter().map(|l| l[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let fmt_line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(
                |(c, v)| if numeric(c) { format!("{v:>w$}", w = widths[c]) } else { format!("{v:<w$}", w = widths[c]) },
            )
            .collect();
        format!("  {}\n", parts.join("  ").trim_end())
    };
    let mut out = fmt_line(header);
    for (i, l) in lines.iter().enumerate() {
        if total_last && i + 1 == lines.len() {
            out += &format!("  {}\n", "-".repeat(widths.iter().sum::<usize>() + 2 * (n - 1)));
        }
        out += &fmt_line(l);
    }
    out
}

/// The regions of some runs: calls, time, energy, emissions, and each one's share of `total_kwh`.
pub fn region_table(regions: &[RegionSum], total_kwh: f64, runs_label: &str) -> String {
    let max_e = regions.iter().map(|r| r.totals.energy_consumed_kwh).fold(0.0, f64::max);
    let max_m = regions.iter().map(|r| r.totals.emissions_kg).fold(0.0, f64::max);
    let (e, m) = (NumberColumn::energy(max_e), NumberColumn::mass(max_m));
    let header: Vec<String> = [
        "region".to_string(),
        "calls".into(),
        runs_label.into(),
        "time in calls (s)".into(),
        "open (s)".into(),
        "min/call (ms)".into(),
        "max/call (ms)".into(),
        format!("energy ({})", e.unit),
        format!("emissions ({} CO2e)", m.unit),
        "share of energy".into(),
    ]
    .to_vec();
    let lines: Vec<Vec<String>> = regions
        .iter()
        .map(|r| {
            let t = &r.totals;
            vec![
                t.name.clone(),
                t.calls.to_string(),
                r.runs.to_string(),
                crate::format::sig3(t.duration_s),
                crate::format::sig3(t.wall_s),
                crate::format::sig3(t.min_duration_s * 1e3),
                crate::format::sig3(t.max_duration_s * 1e3),
                e.fmt(t.energy_consumed_kwh),
                m.fmt(t.emissions_kg),
                if total_kwh > 0.0 {
                    format!("{:.1} %", t.energy_consumed_kwh / total_kwh * 100.0)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    aligned(&header, &lines, &|c| c >= 1, false)
}

/// The job's first two lines: what it is, and its totals.
fn headline(job: &Job, e: &NumberColumn, m: &NumberColumn) -> String {
    let (energy, emissions) = (job.energy_kwh(), job.emissions_kg());
    format!(
        "Job {} (project {}): {} on {}\n  total      {} {}, {} {} CO2e, {} wall time (first start to last end){}\n\n",
        job.id,
        if job.project.is_empty() { "(no name)" } else { &job.project },
        crate::format::count(job.ranks.len(), "rank", "ranks"),
        crate::format::count(job.nodes.len(), "node", "nodes"),
        e.fmt(energy),
        e.unit,
        m.fmt(emissions),
        m.unit,
        crate::format::duration_s(job.wall_s()),
        if energy > 0.0 {
            format!(", {} g/kWh", crate::format::sig3(emissions * 1000.0 / energy))
        } else {
            String::new()
        }
    )
}

/// The text of one job.
pub fn text(job: &Job) -> String {
    let (energy, emissions) = (job.energy_kwh(), job.emissions_kg());
    let e = NumberColumn::energy(energy);
    let m = NumberColumn::mass(emissions);
    let (eh, mh) = (format!("energy ({})", e.unit), format!("emissions ({} CO2e)", m.unit));
    let mut out = headline(job, &e, &m);
    let node_header: Vec<String> =
        ["node".to_string(), "node id".into(), "ranks".into(), eh.clone(), mh.clone()].to_vec();
    let (node_e, total_e) = e.fmt_summing(&job.nodes.iter().map(|n| n.energy_kwh).collect::<Vec<_>>());
    let (node_m, total_m) = m.fmt_summing(&job.nodes.iter().map(|n| n.emissions_kg).collect::<Vec<_>>());
    let mut lines: Vec<Vec<String>> = job
        .nodes
        .iter()
        .zip(node_e.into_iter().zip(node_m))
        .map(|(n, (ne, nm))| {
            vec![
                n.name.clone(),
                n.node_id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                ranks_text(&n.ranks),
                ne,
                nm,
            ]
        })
        .collect();
    lines.push(vec!["total".into(), String::new(), job.ranks.len().to_string(), total_e, total_m]);
    out += &aligned(&node_header, &lines, &|c| c >= 3, true);
    out += "\n";
    let rank_header: Vec<String> =
        ["rank".to_string(), "node".into(), "local".into(), "run".into(), "duration (s)".into(), eh, mh, "rows".into()]
            .to_vec();
    let (rank_e, total_e) = e.fmt_summing(&job.ranks.iter().map(|r| r.run.total().energy_kwh).collect::<Vec<_>>());
    let (rank_m, total_m) = m.fmt_summing(&job.ranks.iter().map(|r| r.run.total().emissions_kg).collect::<Vec<_>>());
    let mut lines: Vec<Vec<String>> = job
        .ranks
        .iter()
        .zip(rank_e.into_iter().zip(rank_m))
        .map(|(r, (re, rm))| {
            vec![
                r.rank_text(),
                r.id.node.clone(),
                r.id.local_rank().map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                r.run.short_id().to_string(),
                crate::format::sig3(r.run.total().duration_s),
                re,
                rm,
                r.run.rows.len().to_string(),
            ]
        })
        .collect();
    lines.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        total_e,
        total_m,
        String::new(),
    ]);
    out += &aligned(&rank_header, &lines, &|c| c == 0 || c >= 4, true);
    if !job.regions.is_empty() {
        out += "\n  Regions, summed over the ranks (energy: the run's over the time each was open)\n";
        out += &region_table(&job.regions, energy, "ranks");
    }
    out += "\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_ranges_and_columns() {
        assert_eq!(ranks_text(&[5, 0, 1, 2, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranks_text(&[3]), "3");
        let c = NumberColumn::energy(1.2346e-3);
        assert_eq!((c.unit, c.fmt(1.2346e-3), c.fmt(1e-4)), ("Wh", "1.235".to_string(), "0.100".to_string()));
        let c = NumberColumn::mass(0.0);
        assert_eq!(c.fmt(0.0), "0");
        // Rounded one by one the rows would show 45.83 for a total of 45.86.
        let c = NumberColumn::energy(45.86e-6);
        let (rows, total) = c.fmt_summing(&[0.5649e-6, 20.8649e-6, 1.3749e-6, 0.5649e-6, 21.5649e-6, 0.9249e-6]);
        assert_eq!(total, "45.86");
        let shown: f64 = rows.iter().map(|r| r.parse::<f64>().unwrap()).sum();
        assert!((shown - 45.86).abs() < 1e-9, "{rows:?}");
        assert_eq!(rows[1], "20.87", "the largest remainder rounds up: {rows:?}");
    }
}
