//! Code locations that read the same on every machine.
//!
//! A label that carries the build machine's path (a cargo home, a toolchain
//! hash, a build directory) splits one call site into one series per build
//! directory in a fleet. These helpers keep the part that names the code:
//! the workspace-relative path of the service's own files,
//! `crate-version/path` for a registry dependency, and `std/...`,
//! `core/...` for the standard library without the toolchain's hash.

/// Where a file belongs, for choosing the culprit frame of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The standard library (std, core, alloc).
    Std,
    /// A registry or git dependency.
    Dependency,
    /// tokio-doctor's own code.
    Doctor,
    /// Anything else: the service's own code.
    Service,
}

/// tokio-doctor's own sources, as its debug info names them.
const DOCTOR_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

/// `path` made stable across machines; `comp_dirs` are the directories the
/// service was compiled in (stripped from its own absolute paths).
pub(crate) fn stable_path(path: &str, comp_dirs: &[String]) -> String {
    if let Some(rest) = std_rest(path) {
        return rest.to_string();
    }
    if let Some(rest) = dependency_rest(path) {
        return rest.to_string();
    }
    for dir in comp_dirs {
        if let Some(rest) = path.strip_prefix(dir.as_str()) {
            if let Some(rest) = rest.strip_prefix('/') {
                return rest.to_string();
            }
        }
    }
    path.to_string()
}

/// Where `path` belongs.
pub(crate) fn origin(path: &str) -> Origin {
    if std_rest(path).is_some() {
        Origin::Std
    } else if path.starts_with(DOCTOR_SRC) {
        Origin::Doctor
    } else if dependency_rest(path).is_some() {
        Origin::Dependency
    } else {
        Origin::Service
    }
}

/// `/rustc/<hash>/library/std/src/x.rs` or a rustup toolchain's
/// `lib/rustlib/src/rust/library/std/src/x.rs`: `std/src/x.rs`.
fn std_rest(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/rustc/") {
        let (_hash, rest) = rest.split_once('/')?;
        return Some(rest.strip_prefix("library/").unwrap_or(rest));
    }
    let at = path.find("/lib/rustlib/src/rust/")?;
    let rest = &path[at + "/lib/rustlib/src/rust/".len()..];
    Some(rest.strip_prefix("library/").unwrap_or(rest))
}

/// `<cargo home>/registry/src/<index>/tower-http-0.6.11/src/x.rs`:
/// `tower-http-0.6.11/src/x.rs`; `<cargo home>/git/checkouts/<repo>-<hash>/<rev>/x.rs`:
/// `<repo>/x.rs`.
fn dependency_rest(path: &str) -> Option<&str> {
    if let Some(at) = path.find("/registry/src/") {
        let rest = &path[at + "/registry/src/".len()..];
        let (_index, rest) = rest.split_once('/')?;
        return Some(rest);
    }
    if let Some(at) = path.find("/git/checkouts/") {
        let rest = &path[at + "/git/checkouts/".len()..];
        let (_repo, rest) = rest.split_once('/')?;
        let (_rev, rest) = rest.split_once('/')?;
        return Some(rest);
    }
    None
}

/// Whether a stable location (as [`stable_path`] writes it) is in a
/// registry dependency: its first segment is `name-major.minor.patch`
/// (`tower-http-0.6.11/src/trace/make_span.rs:109`).
pub(crate) fn is_dependency_location(location: &str) -> bool {
    let Some((first, _)) = location.split_once('/') else {
        return false;
    };
    let number = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    first.match_indices('-').any(|(i, _)| {
        let mut parts = first[i + 1..].splitn(3, '.');
        i > 0
            && parts.next().is_some_and(number)
            && parts.next().is_some_and(number)
            && parts
                .next()
                .is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// A demangled Rust path without generic arguments: `alloc::vec::Vec<T>::push`
/// becomes `alloc::vec::Vec::push`; a qualified self type keeps its angle
/// brackets (`<a::B as c::D>::f`) with its own arguments removed.
pub(crate) fn without_generics(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // For each open `<`: whether it was kept (a qualified path) or dropped.
    let mut kept: Vec<bool> = Vec::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        let dropping = kept.iter().any(|k| !k);
        match c {
            '<' => {
                // After an identifier or `::` it opens generic arguments.
                let generic = prev.is_some_and(|p| {
                    p.is_alphanumeric() || p == '_' || p == ':' || p == '>' || p == '}'
                });
                kept.push(!generic);
                if !generic && !dropping {
                    out.push(c);
                }
            }
            '>' if !kept.is_empty() => {
                let k = kept.pop().unwrap_or(true);
                if k && !kept.iter().any(|k| !k) {
                    out.push(c);
                }
            }
            _ if !dropping => out.push(c),
            _ => {}
        }
        prev = Some(c);
    }
    out.replace("::::", "::").trim_end_matches("::").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_location_is_told_from_the_services_own() {
        assert!(is_dependency_location(
            "tower-http-0.6.11/src/trace/make_span.rs:109"
        ));
        assert!(is_dependency_location("tokio-1.54.1/src/runtime/mod.rs:3"));
        assert!(is_dependency_location("foo-bar-1.0.0-rc.1/src/lib.rs:1"));
        assert!(!is_dependency_location("src/handlers.rs:42"));
        assert!(!is_dependency_location("examples/demo/shop.rs:108"));
        assert!(!is_dependency_location("my-service-v2/src/main.rs:10"));
        assert!(!is_dependency_location("tokio-1.54.1"));
    }

    #[test]
    fn build_machine_paths_become_stable() {
        let home = "/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        assert_eq!(
            stable_path(
                &format!("{home}/tower-http-0.6.11/src/trace/make_span.rs"),
                &[]
            ),
            "tower-http-0.6.11/src/trace/make_span.rs"
        );
        assert_eq!(
            stable_path("/rustc/0123abcd/library/std/src/thread/mod.rs", &[]),
            "std/src/thread/mod.rs"
        );
        assert_eq!(
            stable_path(
                "/root/.rustup/toolchains/stable-x86_64/lib/rustlib/src/rust/library/core/src/a.rs",
                &[]
            ),
            "core/src/a.rs"
        );
        let dirs = ["/build/ws".to_string()];
        assert_eq!(stable_path("/build/ws/api/src/h.rs", &dirs), "api/src/h.rs");
        assert_eq!(stable_path("tests/x.rs", &dirs), "tests/x.rs");
    }

    #[test]
    fn origins() {
        assert_eq!(origin("/rustc/ab/library/core/src/a.rs"), Origin::Std);
        assert_eq!(
            origin("/h/.cargo/registry/src/i/serde-1.0.0/src/a.rs"),
            Origin::Dependency
        );
        assert_eq!(origin(&format!("{DOCTOR_SRC}lib.rs")), Origin::Doctor);
        assert_eq!(origin("/w/tests/x.rs"), Origin::Service);
    }

    #[test]
    fn generic_arguments_are_dropped() {
        assert_eq!(
            without_generics("alloc::vec::Vec<T>::push"),
            "alloc::vec::Vec::push"
        );
        assert_eq!(
            without_generics("<tokio::runtime::Harness<T,S> as core::Poll>::poll"),
            "<tokio::runtime::Harness as core::Poll>::poll"
        );
        assert_eq!(without_generics("core::ptr::read::<u8>"), "core::ptr::read");
        assert_eq!(without_generics("a::b::{{closure}}"), "a::b::{{closure}}");
    }
}
