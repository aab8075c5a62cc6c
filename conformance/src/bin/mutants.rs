//! Mutation testing of the sans-IO crates, one source file at a time, with a table of scores.
//!
//! ```text
//! cargo run -p conformance --bin mutants -- engineio-parser                    # every file of a crate
//! cargo run -p conformance --bin mutants -- socketio-parser/src/connection.rs  # one file (or several)
//! ```
//!
//! For each file it runs `cargo mutants -p CRATE --all-features -f FILE -j 1 --timeout 120`
//! (cargo-mutants 27: `cargo install cargo-mutants --locked`), so each mutant is tested with the
//! tests of the crate it lives in and only those. The exclusions of equivalent mutants are in
//! `.cargo/mutants.toml`, each with its reason. Each file's results stay in
//! `target/mutants/FILE/mutants.out/` (`missed.txt` lists the survivors); the table, score =
//! caught / (caught + missed), is printed and written to `target/mutants/report.md`.
//! Running a whole crate takes hours on two cores: pass the files you changed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

/// The crates whose files are measured when a crate name is given.
const CRATES: &[&str] = &["engineio-parser", "socketio-parser"];

/// One file's counts, from its `outcomes.json`.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    total: u64,
    caught: u64,
    missed: u64,
    unviable: u64,
    timeout: u64,
}

impl Counts {
    fn from_outcomes(outcomes: &Value) -> Option<Counts> {
        let n = |key: &str| outcomes[key].as_u64();
        Some(Counts {
            total: n("total_mutants")?,
            caught: n("caught")?,
            missed: n("missed")?,
            unviable: n("unviable")?,
            timeout: n("timeout")?,
        })
    }

    /// Caught / (caught + missed), in percent; `None` when no mutant was viable.
    fn score(&self) -> Option<f64> {
        let tested = self.caught + self.missed;
        (tested > 0).then(|| 100.0 * self.caught as f64 / tested as f64)
    }

    fn row(&self, file: &str) -> String {
        let score = self.score().map_or_else(|| "–".to_owned(), |s| format!("{s:.1}%"));
        format!(
            "| {file} | {} | {} | {} | {} | {} | {score} |",
            self.total, self.caught, self.missed, self.unviable, self.timeout
        )
    }
}

/// The crate a file belongs to: its first path component.
fn crate_of(file: &str) -> Option<&str> {
    let name = file.split('/').next()?;
    CRATES.contains(&name).then_some(name)
}

/// The files to measure for one argument: a crate's every `.rs` under `src/`, or the file itself.
fn files_for(arg: &str) -> Result<Vec<String>, String> {
    if CRATES.contains(&arg) {
        let mut files = Vec::new();
        collect_rs(&Path::new(arg).join("src"), &mut files)?;
        files.sort();
        return Ok(files);
    }
    if crate_of(arg).is_none() || !arg.ends_with(".rs") {
        return Err(format!("{arg}: not a crate of {CRATES:?} nor a .rs file in one"));
    }
    if !Path::new(arg).is_file() {
        return Err(format!("{arg}: no such file (run from the workspace root)"));
    }
    Ok(vec![arg.to_owned()])
}

fn collect_rs(dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Runs cargo-mutants on `file` and reads its counts.
fn measure(file: &str) -> Result<Counts, String> {
    let krate = crate_of(file).ok_or_else(|| format!("{file}: unknown crate"))?;
    let out = PathBuf::from("target/mutants").join(file.replace('/', "__"));
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let status = Command::new("cargo")
        .args(["mutants", "-p", krate, "--all-features", "-f", file, "-j", "1", "--timeout", "120"])
        .arg("-o")
        .arg(&out)
        .status()
        .map_err(|e| format!("cannot run cargo mutants ({e}): cargo install cargo-mutants --locked"))?;
    // cargo-mutants exits non-zero when a mutant survives: the outcomes say what happened.
    let path = out.join("mutants.out/outcomes.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{file}: no {} ({e}); cargo mutants ended with {status}", path.display()))?;
    let outcomes: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Counts::from_outcomes(&outcomes).ok_or_else(|| format!("{}: no counts", path.display()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a.starts_with('-')) {
        eprintln!("usage: mutants CRATE|FILE...   (crates: {})", CRATES.join(", "));
        return ExitCode::from(2);
    }
    let mut files = Vec::new();
    for arg in &args {
        match files_for(arg) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("mutants: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let date = Command::new("date").args(["-u", "+%F"]).output().ok();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    let mut table = format!(
        "Measured {date}, cargo mutants per file with its crate's own tests.\n\n\
         | file | mutants | caught | missed | unviable | timeout | score |\n|---|---|---|---|---|---|---|\n"
    );
    let mut failed = false;
    for file in &files {
        match measure(file) {
            Ok(counts) => {
                let row = counts.row(file);
                eprintln!("{row}");
                table.push_str(&row);
                table.push('\n');
            }
            Err(e) => {
                eprintln!("mutants: {e}");
                failed = true;
            }
        }
    }
    println!("{table}");
    let report = Path::new("target/mutants/report.md");
    if let Err(e) = std::fs::write(report, &table) {
        eprintln!("mutants: cannot write {}: {e}", report.display());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_the_outcomes_summary() {
        let outcomes = serde_json::json!({
            "outcomes": [], "total_mutants": 72, "missed": 2, "caught": 69, "timeout": 0, "unviable": 1,
        });
        let counts = Counts::from_outcomes(&outcomes).expect("every count is there");
        assert_eq!(counts, Counts { total: 72, caught: 69, missed: 2, unviable: 1, timeout: 0 });
        assert_eq!(counts.row("a.rs"), "| a.rs | 72 | 69 | 2 | 1 | 0 | 97.2% |");
        assert_eq!(Counts::from_outcomes(&serde_json::json!({ "caught": 1 })), None);
    }

    #[test]
    fn a_file_with_no_viable_mutant_has_no_score() {
        let counts = Counts { total: 3, unviable: 3, ..Counts::default() };
        assert_eq!(counts.score(), None);
        assert!(counts.row("b.rs").ends_with("| – |"));
    }

    #[test]
    fn only_files_of_the_sans_io_crates_are_taken() {
        assert_eq!(crate_of("socketio-parser/src/connection.rs"), Some("socketio-parser"));
        assert_eq!(crate_of("socketio-server/src/client.rs"), None);
        assert!(files_for("socketio-server/src/client.rs").is_err());
        assert!(files_for("engineio-parser/src/nope.txt").is_err());
    }
}
