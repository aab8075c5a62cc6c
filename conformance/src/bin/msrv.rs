//! The lowest Rust the published crates can build with, read from the lockfile.
//!
//! ```text
//! cargo run -p conformance --bin msrv
//! ```
//!
//! It runs `cargo metadata --all-features --locked`, walks the normal and build dependencies of
//! every workspace member that is published (not `publish = false`), on every target platform,
//! and reads the `rust-version` each locked crate declares. It prints the highest one and the
//! crates that set it, and exits with status 1 when a published crate's own `rust-version` is
//! lower than what one of its locked dependencies declares. Development dependencies are left
//! out: they never reach a user's build. Crates that declare no `rust-version` are counted and
//! named, since nothing can be said about them.
//!
//! What our own code needs is checked by clippy's `incompatible_msrv` lint, which reads the
//! same `rust-version` and refuses standard library items stabilised after it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::process::{Command, ExitCode};

use serde_json::Value;

/// A `rust-version`: `1.88` and `1.88.0` are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RustVersion([u64; 3]);

impl RustVersion {
    /// Reads `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`.
    fn parse(text: &str) -> Option<RustVersion> {
        let mut parts = [0; 3];
        let mut count = 0;
        for (slot, part) in parts.iter_mut().zip(text.split('.')) {
            *slot = part.parse().ok()?;
            count += 1;
        }
        (count >= 2 && text.split('.').count() == count).then_some(RustVersion(parts))
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [major, minor, patch] = self.0;
        if patch == 0 {
            write!(f, "{major}.{minor}")
        } else {
            write!(f, "{major}.{minor}.{patch}")
        }
    }
}

/// What the lockfile says about one published crate.
#[derive(Debug, PartialEq)]
struct Report {
    /// `name version` of the published crate.
    name: String,
    /// Its own `rust-version`, if it declares one.
    declared: Option<RustVersion>,
    /// The registry crates it builds with, `name version` with their `rust-version`, if any.
    dependencies: BTreeMap<String, Option<RustVersion>>,
}

impl Report {
    /// The highest `rust-version` among the dependencies, and the crates that declare it.
    fn highest(&self) -> Option<(RustVersion, Vec<&str>)> {
        let max = self.dependencies.values().flatten().max().copied()?;
        let setters = self.dependencies.iter().filter(|(_, v)| **v == Some(max)).map(|(n, _)| n.as_str());
        Some((max, setters.collect()))
    }
}

/// One report per published workspace member of `metadata` (`cargo metadata` output resolved
/// with all features), in the order of `workspace_members`.
fn reports(metadata: &Value) -> Result<Vec<Report>, String> {
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .ok_or("no `packages` in the metadata")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("no `resolve` in the metadata")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let package = |id: &str| packages.get(id).copied().ok_or_else(|| format!("no package {id}"));
    let label =
        |p: &Value| format!("{} {}", p["name"].as_str().unwrap_or("?"), p["version"].as_str().unwrap_or("?"));
    let rust_version = |p: &Value| p["rust_version"].as_str().and_then(RustVersion::parse);

    let mut out = Vec::new();
    for member in metadata["workspace_members"].as_array().ok_or("no `workspace_members`")? {
        let root = member.as_str().ok_or("a workspace member id is not a string")?;
        let root_package = package(root)?;
        // `publish = false` reads as an empty list of registries.
        if root_package["publish"].as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        let mut seen = BTreeSet::from([root]);
        let mut todo = vec![root];
        let mut dependencies = BTreeMap::new();
        while let Some(id) = todo.pop() {
            let node = nodes.get(id).ok_or_else(|| format!("{id} is not in the resolve graph"))?;
            for dep in node["deps"].as_array().into_iter().flatten() {
                let mut kinds = dep["dep_kinds"].as_array().into_iter().flatten();
                let reaches_users = kinds.any(|k| k["kind"].is_null() || k["kind"] == "build");
                let Some(dep_id) = dep["pkg"].as_str() else { continue };
                if reaches_users && seen.insert(dep_id) {
                    todo.push(dep_id);
                    let p = package(dep_id)?;
                    // Path dependencies are workspace members: their `rust-version` is ours.
                    if !p["source"].is_null() {
                        dependencies.insert(label(p), rust_version(p));
                    }
                }
            }
        }
        out.push(Report { name: label(root_package), declared: rust_version(root_package), dependencies });
    }
    Ok(out)
}

fn metadata() -> Result<Value, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--all-features", "--locked"])
        .output()
        .map_err(|e| format!("cannot run `{cargo} metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("`cargo metadata` printed no JSON: {e}"))
}

fn main() -> ExitCode {
    let reports = match metadata().and_then(|m| reports(&m)) {
        Ok(reports) => reports,
        Err(e) => {
            eprintln!("msrv: {e}");
            return ExitCode::from(2);
        }
    };
    let mut all: BTreeMap<&str, Option<RustVersion>> = BTreeMap::new();
    let mut failed = false;
    for report in &reports {
        let declared = report.declared.map_or("none".to_owned(), |v| v.to_string());
        match report.highest() {
            Some((needed, setters)) if report.declared.is_none_or(|d| d < needed) => {
                failed = true;
                let verb = if setters.len() == 1 { "needs" } else { "need" };
                println!(
                    "FAIL {}: rust-version {declared}, but {} {verb} {needed}",
                    report.name,
                    setters.join(", ")
                );
            }
            Some((needed, _)) => {
                println!("ok   {}: rust-version {declared}, dependencies need {needed}", report.name)
            }
            None => println!("ok   {}: rust-version {declared}, no dependency declares one", report.name),
        }
        all.extend(report.dependencies.iter().map(|(n, v)| (n.as_str(), *v)));
    }
    let undeclared: Vec<&str> = all.iter().filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
    println!(
        "{} locked crates reach users of the published crates (all features, every target); \
         {} declare no rust-version: {}",
        all.len(),
        undeclared.len(),
        undeclared.join(", ")
    );
    if let Some(max) = all.values().flatten().max() {
        let setters: Vec<&str> = all.iter().filter(|(_, v)| **v == Some(*max)).map(|(n, _)| *n).collect();
        println!("highest rust-version: {max}, set by {}", setters.join(", "));
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
    fn versions_compare_as_numbers() {
        let v = |s| RustVersion::parse(s).expect("a version");
        assert_eq!(v("1.88"), v("1.88.0"));
        assert!(v("1.9") < v("1.10"));
        assert!(v("1.88.1") > v("1.88"));
        assert_eq!(v("1.85.0").to_string(), "1.85");
        assert_eq!(RustVersion::parse("1"), None);
        assert_eq!(RustVersion::parse("1.x"), None);
        assert_eq!(RustVersion::parse("1.2.3.4"), None);
    }

    #[test]
    fn only_what_reaches_users_of_published_crates_counts() {
        let metadata = serde_json::json!({
            "workspace_members": ["lib", "tests"],
            "packages": [
                { "id": "lib", "name": "lib", "version": "0.1.0", "rust_version": "1.80", "source": null, "publish": null },
                { "id": "tests", "name": "tests", "version": "0.1.0", "rust_version": "1.80", "source": null, "publish": [] },
                { "id": "a", "name": "a", "version": "1.0.0", "rust_version": "1.70", "source": "registry" },
                { "id": "b", "name": "b", "version": "2.0.0", "rust_version": "1.82.0", "source": "registry" },
                { "id": "c", "name": "c", "version": "3.0.0", "rust_version": null, "source": "registry" },
                { "id": "dev", "name": "dev", "version": "1.0.0", "rust_version": "1.94", "source": "registry" }
            ],
            "resolve": { "nodes": [
                { "id": "lib", "deps": [
                    { "pkg": "a", "dep_kinds": [{ "kind": null }] },
                    { "pkg": "c", "dep_kinds": [{ "kind": "build" }] },
                    { "pkg": "dev", "dep_kinds": [{ "kind": "dev" }] }
                ] },
                { "id": "tests", "deps": [{ "pkg": "dev", "dep_kinds": [{ "kind": null }] }] },
                { "id": "a", "deps": [{ "pkg": "b", "dep_kinds": [{ "kind": null }] }] },
                { "id": "b", "deps": [] },
                { "id": "c", "deps": [] },
                { "id": "dev", "deps": [] }
            ] }
        });
        let reports = reports(&metadata).expect("well-formed metadata");
        assert_eq!(reports.len(), 1, "the unpublished member is left out");
        let report = &reports[0];
        assert_eq!(report.name, "lib 0.1.0");
        assert_eq!(report.declared, RustVersion::parse("1.80"));
        assert_eq!(
            report.dependencies.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a 1.0.0", "b 2.0.0", "c 3.0.0"],
            "the development dependency is left out"
        );
        assert_eq!(report.highest(), Some((RustVersion([1, 82, 0]), vec!["b 2.0.0"])));
    }
}
