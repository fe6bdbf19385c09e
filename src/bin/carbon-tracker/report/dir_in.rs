//! What `report` reads from its arguments: each file as given, and for a directory (the
//! `output_dir` of a run or of a whole job) every file the library writes there: emissions
//! CSVs (any name: the first line is CodeCarbon's header), region files
//! (`regions_<experiment>_<run_id>.csv`) and run files (`run_<experiment>_<run_id>.json`, the
//! job, node and rank of a run). Task files and anything else are left alone.

use std::path::{Path, PathBuf};

use carbon_tracker::files;
use carbon_tracker::files::RunIdentity as Identity;

use super::csv_in::Problem;
use super::regions_in::RegionRow;

#[derive(Default)]
pub struct Inputs {
    pub emissions_files: Vec<PathBuf>,
    pub regions: Vec<RegionRow>,
    pub identities: Vec<Identity>,
    pub problems: Vec<Problem>,
}

enum Kind {
    Emissions,
    Regions,
    Other,
}

/// A CSV's kind from its first line.
fn kind(path: &Path) -> Kind {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else { return Kind::Other };
    let mut first = String::new();
    if std::io::BufReader::new(f).read_line(&mut first).is_err() {
        return Kind::Other;
    }
    let first = first.trim_end_matches(['\r', '\n']).trim_start_matches('\u{feff}');
    if first == files::region_file_header() {
        Kind::Regions
    } else if first == files::emissions_csv_header() || super::csv_in::looks_like_emissions_header(first) {
        Kind::Emissions
    } else {
        Kind::Other
    }
}

pub fn collect(args: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for arg in args {
        if !arg.is_dir() {
            // Given by name: read as an emissions CSV (its problems are reported), unless it is one
            // of the library's other files.
            match (arg.extension().and_then(|e| e.to_str()), kind(arg)) {
                (Some("json"), _) => add_run_file(&mut inputs, arg),
                (_, Kind::Regions) => add_region_file(&mut inputs, arg),
                _ => inputs.emissions_files.push(arg.clone()),
            }
            continue;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(arg) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect(),
            Err(e) => {
                inputs.problems.push(Problem {
                    file: arg.clone(),
                    line: None,
                    message: format!("cannot read the directory: {e}"),
                });
                continue;
            }
        };
        entries.sort();
        let before = inputs.emissions_files.len();
        for p in entries {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with("run_") && name.ends_with(".json") {
                add_run_file(&mut inputs, &p);
            } else if name.ends_with(".csv") {
                match kind(&p) {
                    Kind::Emissions => inputs.emissions_files.push(p),
                    Kind::Regions => add_region_file(&mut inputs, &p),
                    Kind::Other => {}
                }
            }
        }
        if inputs.emissions_files.len() == before {
            inputs.problems.push(Problem {
                file: arg.clone(),
                line: None,
                message: "no emissions CSV in this directory".into(),
            });
        }
    }
    inputs
}

fn add_run_file(inputs: &mut Inputs, path: &Path) {
    match files::read_run_file(path).map_err(|e| e.message) {
        Ok(id) => inputs.identities.push(id),
        Err(message) => inputs.problems.push(Problem { file: path.to_path_buf(), line: None, message }),
    }
}

fn add_region_file(inputs: &mut Inputs, path: &Path) {
    let (rows, problems) = super::regions_in::read(path);
    inputs.regions.extend(rows);
    inputs.problems.extend(problems);
}
