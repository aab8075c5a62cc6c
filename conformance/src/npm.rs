//! Installing the pinned npm packages that the workspace's interop tests drive with Node.js.
//!
//! Several test suites run real JavaScript code (reference parsers, the reference Engine.IO
//! server, the npm Engine.IO and Socket.IO clients), each from a folder holding a
//! `package.json` that pins exact versions and the `package-lock.json` npm wrote for it. Those
//! tests call [`ensure_installed`] with the folder before they start `node`:
//!
//! ```no_run
//! # fn run() -> Result<(), String> {
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("js");
//! conformance::npm::ensure_installed(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! The install is `npm ci` run in a private staging folder whose `node_modules` then moves into
//! place with one rename, so test binaries running at the same time never see a half-installed
//! tree. When the pinned versions are already installed nothing runs, not even npm.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one `npm ci` may take before it is killed.
pub const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// Makes sure `node` runs and the packages `dir/package.json` pins are installed in
/// `dir/node_modules`, installing them with `npm ci` (from `dir/package-lock.json`) when they are
/// missing or of another version.
///
/// A dependency is pinned either as an exact version (`"6.6.8"`) or as an npm alias
/// (`"npm:engine.io-client@3.5.6"`); it counts as installed when
/// `node_modules/<name>/package.json` holds that version.
///
/// Calls from one process are serialised; calls from several processes at once are safe (each
/// installs in its own staging folder and the first rename wins). The error says why the
/// packages cannot be had: Node.js or npm missing, npm failing, a version mismatch after the
/// install.
pub fn ensure_installed(dir: &Path) -> Result<(), String> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("node", dir)?;
    let pinned = pinned_versions(dir)?;
    let modules = dir.join("node_modules");
    if installed(&modules, &pinned) {
        return Ok(());
    }
    require_tool("npm", dir)?;
    let stage = dir.join(format!(".stage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).map_err(|e| format!("cannot create {}: {e}", stage.display()))?;
    let result = copy_manifests(dir, &stage)
        .and_then(|()| run_npm_ci(&stage))
        .and_then(|()| move_into_place(dir, &stage.join("node_modules"), &modules, &pinned));
    let _ = std::fs::remove_dir_all(&stage);
    result?;
    if installed(&modules, &pinned) {
        Ok(())
    } else {
        Err(format!(
            "`npm ci` in {} did not install the versions package.json pins: {pinned:?}",
            dir.display()
        ))
    }
}

/// The packages `dir/package.json` pins, as `(folder under node_modules, version)`.
pub fn pinned_versions(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let path = dir.join("package.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let deps = manifest["dependencies"]
        .as_object()
        .ok_or_else(|| format!("{} has no `dependencies`", path.display()))?;
    Ok(deps
        .iter()
        .map(|(name, spec)| {
            let spec = spec.as_str().unwrap_or_default();
            // `npm:engine.io-client@3.5.6` pins 3.5.6 under the alias `name`.
            let version = spec.rsplit_once('@').map_or(spec, |(_, version)| version);
            (name.clone(), version.to_owned())
        })
        .collect())
}

fn require_tool(tool: &str, dir: &Path) -> Result<(), String> {
    match Command::new(tool).arg("--version").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("`{tool} --version` failed: {}", String::from_utf8_lossy(&out.stderr))),
        Err(e) => Err(format!(
            "`{tool}` is not available ({e}): this test runs the npm packages of {} and needs \
             Node.js (18 or later) and npm on the PATH (e.g. `apt-get install nodejs npm`)",
            dir.display()
        )),
    }
}

fn installed(modules: &Path, pinned: &[(String, String)]) -> bool {
    pinned.iter().all(|(name, version)| {
        std::fs::read_to_string(modules.join(name).join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|manifest| manifest["version"].as_str() == Some(version.as_str()))
    })
}

fn copy_manifests(dir: &Path, stage: &Path) -> Result<(), String> {
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), stage.join(file))
            .map_err(|e| format!("cannot copy {}: {e}", dir.join(file).display()))?;
    }
    Ok(())
}

/// Renames the fresh `node_modules` into place. Another process may have done so first (then
/// its install is used), or a stale install may be in the way (then it is moved aside first).
fn move_into_place(
    dir: &Path,
    fresh: &Path,
    modules: &Path,
    pinned: &[(String, String)],
) -> Result<(), String> {
    if std::fs::rename(fresh, modules).is_ok() || installed(modules, pinned) {
        return Ok(());
    }
    let stale: PathBuf = dir.join(format!(".stale-{}", std::process::id()));
    let _ = std::fs::rename(modules, &stale);
    let moved = std::fs::rename(fresh, modules);
    let _ = std::fs::remove_dir_all(&stale);
    match moved {
        Ok(()) => Ok(()),
        Err(_) if installed(modules, pinned) => Ok(()),
        Err(e) => Err(format!("cannot move the npm install into {}: {e}", modules.display())),
    }
}

fn run_npm_ci(dir: &Path) -> Result<(), String> {
    let mut child = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `npm ci`: {e}"))?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + INSTALL_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`npm ci` in {} took more than {INSTALL_LIMIT:?}", dir.display()));
            }
            Err(e) => return Err(format!("waiting for `npm ci`: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` failed in {} ({status}): {stderr}", dir.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_aliases_are_read_from_package_json() {
        let dir = std::env::temp_dir().join(format!("conformance-npm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("package.json"),
            r#"{"dependencies": {"a": "1.2.3", "a-v2": "npm:a@2.0.1", "@scope/b": "0.1.0"}}"#,
        )
        .expect("write package.json");
        let pinned = pinned_versions(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let mut pinned = pinned.expect("pins");
        pinned.sort();
        assert_eq!(
            pinned,
            [("@scope/b", "0.1.0"), ("a", "1.2.3"), ("a-v2", "2.0.1")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }
}
