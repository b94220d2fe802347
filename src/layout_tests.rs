//! The module layout as a test: dependencies point one way, in the order `lib.rs` declares the
//! modules, and the request steps never reach for the configuration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules in `lib.rs` order.
fn module_order() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of top-level module `module`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let dir = src().join(module);
    let mut files = vec![];
    let single = src().join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files
}

/// The top-level modules a file names as `crate::NAME` (macros such as `crate::audit!` aside),
/// comments and test modules included: a test that needs a later module is a smell too.
fn crate_refs(text: &str, known: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let is_macro = rest[name.len()..].starts_with('!');
        if !is_macro && known.contains(&name) {
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_module_depends_only_on_modules_declared_before_it() {
    let order = module_order();
    assert!(order.len() > 20, "lib.rs lists the modules: {order:?}");
    let mut problems = vec![];
    for (rank, module) in order.iter().enumerate() {
        let files = files_of(module);
        assert!(!files.is_empty(), "no source for module {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for dep in crate_refs(&text, &order) {
                let dep_rank = order.iter().position(|m| *m == dep).unwrap();
                if dep_rank >= rank && dep != *module {
                    problems.push(format!("{} uses crate::{dep}", file.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layout order:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_request_steps_never_import_the_configuration() {
    let order = module_order();
    for step in [
        "object_key",
        "authenticate",
        "authorize",
        "sign",
        "respond",
        "flow",
        "telemetry",
        "rate_limit",
    ] {
        for file in files_of(step) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                !crate_refs(&text, &order).contains("config"),
                "{} imports crate::config; steps own their settings and config fills them in",
                file.display()
            );
        }
    }
}

#[test]
fn the_layout_check_sees_imports() {
    let known = vec!["config".to_owned(), "audit".to_owned(), "sign".to_owned()];
    let refs = crate_refs(
        "use crate::config::Config;\ncrate::audit!(x);\ncrate::sign::X",
        &known,
    );
    assert_eq!(
        refs,
        BTreeSet::from(["config".to_owned(), "sign".to_owned()])
    );
}

#[test]
fn every_source_file_is_a_declared_module() {
    // A file no `mod` declares is never compiled: dead code that still reads as if it ran.
    let mut orphans = vec![];
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.extension().is_none_or(|x| x != "rs")
                || ["lib", "main", "mod"].contains(&name.as_str())
            {
                continue;
            }
            let parent = if dir == src() {
                src().join("lib.rs")
            } else if dir.join("mod.rs").exists() {
                dir.join("mod.rs")
            } else {
                dir.with_extension("rs")
            };
            let text = std::fs::read_to_string(&parent).unwrap_or_default();
            if !text.contains(&format!("mod {name};")) {
                orphans.push(path.display().to_string());
            }
        }
    }
    assert!(orphans.is_empty(), "files no module declares: {orphans:?}");
}
