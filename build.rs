//! Puts the source commit, the target and the build's date into `hardinit --version`, so that a
//! running container can be traced to its source.
//!
//! scripts/build-static.sh sets `HARDINIT_COMMIT` and `SOURCE_DATE_EPOCH` (the commit's time, by
//! default); a plain `cargo build` asks `git`, and says "unknown" where neither answers. Nothing
//! here reads the clock or a path: the same commit gives the same string on every machine.

use std::process::Command;

#[path = "src/civil_date.rs"]
mod civil_date;

fn main() {
    println!("cargo:rerun-if-env-changed=HARDINIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit changes no file of the package: without these, `cargo build` would keep the
    // previous commit's string. (Only files that exist: cargo reruns for a missing one every time.)
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for path in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        if let Some(file) = git(&["rev-parse", "--git-path", path])
            && std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }

    let commit = std::env::var("HARDINIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| git(&["log", "-1", "--format=%ct"]));
    let built = match epoch.as_deref().map(str::parse::<i64>) {
        Some(Ok(seconds)) => utc_date_time(seconds),
        Some(Err(_)) => panic!("SOURCE_DATE_EPOCH is not a number of seconds: {epoch:?}"),
        None => "unknown".into(),
    };
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!(
        "cargo:rustc-env=HARDINIT_LONG_VERSION={} (commit {commit}, target {target}, built {built})",
        std::env::var("CARGO_PKG_VERSION").unwrap()
    );
}

/// One line of `git` in the package's folder, or None when git or the repository is absent.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR")?)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let line = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !line.is_empty()).then_some(line)
}

/// `1796113767` -> `2026-12-01T08:29:27Z` (the proleptic Gregorian calendar, UTC: Howard
/// Hinnant's days-to-civil algorithm).
fn utc_date_time(seconds: i64) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_date::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}
