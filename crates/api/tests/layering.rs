//! The server's modules form layers, and their imports no circle (ARCHITECTURE.md, "Layers").
//!
//! This test reads `crates/api/src` as text: every path through `crate::` or `super::` in a
//! file's code (comments and its `#[cfg(test)] mod tests` left out), and in a `mod.rs` every path
//! through one of the submodules it declares, names the module file it leads to (the longest
//! prefix that is a file). Two rules hold over those edges:
//!
//! 1. **Layers**: a top-level module uses only top-level modules of lower layers ([`LAYERS`]).
//!    Every top-level module is listed, so a new one has to be placed. The handlers (`routes`)
//!    are used by `startup` alone: nothing else calls a handler's helpers.
//! 2. **No circles**: the files' edges form no cycle. A module may use what its parents declare
//!    (a parent is its children's interface), so an edge to a file's own ancestor is not
//!    counted; every other edge is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `crates/api/src`, lowest layer first. A module may use the modules
/// of the layers before its own, never one of its own layer or of a later one.
const LAYERS: &[&[&str]] = &[
    // Foundations: time, errors, response headers, the rules of names and emails.
    &["clock", "error", "security_headers"],
    &["validation"],
    // Storage: pools, schema, partitions, the retention horizon.
    &["db"],
    // Settings, logging, metrics.
    &["configuration", "metrics"],
    &["telemetry"],
    // The vocabulary: the validated query and the catalog of routes and actions.
    &["audit_query", "catalog"],
    // The audit entry: its row, derived fields, chain, signatures, appends and rollups.
    &["entry"],
    // Who is asking.
    &["auth"],
    // Turning requests into entries: the writer's queue, the request transaction, the access a
    // handler gets.
    &["capture"],
    // Reading entries; sending them out (streams filter with the reading side's filters).
    &["audit_log"],
    &["streaming"],
    // What every handler reaches.
    &["state"],
    // The capture middleware (authorization gate), then the handlers.
    &["gate"],
    &["routes"],
    // Building and running the server.
    &["startup"],
    // Tools built on a running server or its store.
    &["admin"],
    // Generated histories: the demo (through a running server) and the benchmark stores.
    &["seed"],
];

#[test]
fn every_top_level_module_uses_only_lower_layers() {
    let graph = ModuleGraph::read(&source_root());
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, modules)| modules.iter().map(move |module| (*module, layer)))
        .collect();
    let mut problems = Vec::new();
    for module in graph.files.keys() {
        let top = top_level(module);
        if !top.is_empty() && !layer_of.contains_key(top) {
            problems.push(format!("`{top}` is in no layer: add it to LAYERS"));
        }
    }
    for (from, targets) in &graph.edges {
        let (Some(&from_layer), from_top) = (layer_of.get(top_level(from)), top_level(from)) else {
            continue;
        };
        for to in targets {
            let to_top = top_level(to);
            if to_top == from_top {
                continue;
            }
            let Some(&to_layer) = layer_of.get(to_top) else {
                continue;
            };
            if to_layer >= from_layer {
                problems.push(format!(
                    "`{from}` uses `{to}`: `{to_top}` is not below `{from_top}`"
                ));
            }
        }
    }
    for (from, targets) in &graph.edges {
        if ["routes", "startup"].contains(&top_level(from)) {
            continue;
        }
        for to in targets.iter().filter(|to| top_level(to) == "routes") {
            problems.push(format!(
                "`{from}` uses `{to}`: only `startup` uses the handlers"
            ));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_imports_of_the_files_form_no_circle() {
    let graph = ModuleGraph::read(&source_root());
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import circles:\n{}",
        cycles
            .iter()
            .map(|cycle| cycle.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_reader_sees_the_edges_a_circle_is_made_of() {
    // The rules above are only as good as the reading: it must see `crate::` paths, grouped
    // imports, `super::` paths and a parent's own submodules, and skip comments and tests.
    let files = BTreeMap::from([
        (
            "a".to_string(),
            "use crate::b::{self, Thing};\n// crate::c::never\nfn f() { crate::d::g(); }\n"
                .to_string(),
        ),
        ("b".to_string(), "use crate::a::f;\n".to_string()),
        ("c".to_string(), String::new()),
        (
            "d".to_string(),
            "pub mod e;\nfn g() { e::h(); }\n".to_string(),
        ),
        (
            "d::e".to_string(),
            "use super::g;\n#[cfg(test)]\nmod tests {\n    use crate::c::x;\n}\n".to_string(),
        ),
    ]);
    let graph = ModuleGraph::from_sources(files);
    let edges = |module: &str| graph.edges[module].iter().cloned().collect::<Vec<_>>();
    assert_eq!(edges("a"), ["b", "d"]);
    assert_eq!(edges("b"), ["a"]);
    assert_eq!(edges("d"), ["d::e"]);
    // `d::e` uses its parent only: not counted.
    assert!(edges("d::e").is_empty());
    assert_eq!(graph.cycles(), [vec!["a", "b", "a"]]);
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top_level(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

/// Module files and the module files each one uses.
struct ModuleGraph {
    files: BTreeMap<String, String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl ModuleGraph {
    /// Every `.rs` file under `root` but the binary's `main.rs`, by module path (`lib.rs` is the
    /// root, `""`).
    fn read(root: &Path) -> ModuleGraph {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(directory) = stack.pop() {
            for item in std::fs::read_dir(&directory).expect("the source folder is readable") {
                let path = item.expect("a folder entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|extension| extension != "rs") {
                    continue;
                }
                let relative = path.strip_prefix(root).expect("under the root");
                let mut parts: Vec<String> = relative
                    .with_extension("")
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if relative == Path::new("main.rs") {
                    continue;
                }
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                files.insert(parts.join("::"), text);
            }
        }
        ModuleGraph::from_sources(files)
    }

    fn from_sources(files: BTreeMap<String, String>) -> ModuleGraph {
        let mut edges = BTreeMap::new();
        for (module, text) in &files {
            let code = code_of(text);
            let children = declared_submodules(&code);
            let mut targets = BTreeSet::new();
            for path in paths_in(&code, module, &children) {
                let Some(target) = longest_module_prefix(&files, &path) else {
                    continue;
                };
                let is_ancestor = target.is_empty()
                    || target == *module
                    || module.starts_with(&format!("{target}::"));
                if !is_ancestor {
                    targets.insert(target);
                }
            }
            edges.insert(module.clone(), targets);
        }
        ModuleGraph { files, edges }
    }

    /// The elementary circles found by a depth-first walk, each once, as module paths from a
    /// module back to itself.
    fn cycles(&self) -> Vec<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Unseen,
            Open,
            Done,
        }
        fn walk(
            graph: &ModuleGraph,
            module: &str,
            marks: &mut BTreeMap<String, Mark>,
            stack: &mut Vec<String>,
            found: &mut Vec<Vec<String>>,
        ) {
            marks.insert(module.to_string(), Mark::Open);
            stack.push(module.to_string());
            for next in graph.edges.get(module).into_iter().flatten() {
                match marks.get(next).copied().unwrap_or(Mark::Unseen) {
                    Mark::Unseen => walk(graph, next, marks, stack, found),
                    Mark::Open => {
                        let start = stack.iter().position(|m| m == next).expect("open");
                        let mut cycle = stack[start..].to_vec();
                        cycle.push(next.clone());
                        found.push(cycle);
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks.insert(module.to_string(), Mark::Done);
        }
        let mut marks = BTreeMap::new();
        let mut found = Vec::new();
        for module in self.files.keys() {
            if marks.get(module).copied().unwrap_or(Mark::Unseen) == Mark::Unseen {
                walk(self, module, &mut marks, &mut Vec::new(), &mut found);
            }
        }
        found
    }
}

/// The file's code: without comments and without its `#[cfg(test)] mod tests` (by convention
/// the end of a file).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(start) => &text[..start],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| match line.find(" // ") {
            Some(comment) => &line[..comment],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names of `mod x;` and `pub mod x;` declarations.
fn declared_submodules(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
            line.strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
                .map(str::to_string)
        })
        .collect()
}

/// Every module path the code names, absolute (`a::b::c`): `crate::` paths, `super::` paths
/// relative to `module`, and paths through the file's own `children`; a group `x::{a, b::c}`
/// names each of its members.
fn paths_in(code: &str, module: &str, children: &[String]) -> Vec<String> {
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut paths = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if !is_ident(bytes[index]) || (index > 0 && (is_ident(bytes[index - 1]))) {
            index += 1;
            continue;
        }
        // A path starts here unless it continues one (`a::b` starting at `b`).
        if index >= 2 && &bytes[index - 2..index] == b"::" {
            index += 1;
            continue;
        }
        let end = path_end(code, index);
        let path = &code[index..end];
        index = end.max(index + 1);
        let mut segments: Vec<&str> = path.split("::").collect();
        let base: Vec<String> = match segments.first().copied() {
            Some("crate") => {
                segments.remove(0);
                Vec::new()
            }
            Some("super") => {
                let mut base: Vec<String> = module.split("::").map(str::to_string).collect();
                while segments.first() == Some(&"super") {
                    segments.remove(0);
                    base.pop();
                }
                base
            }
            Some("self") if segments.len() > 1 => {
                segments.remove(0);
                module.split("::").map(str::to_string).collect()
            }
            Some(first) if segments.len() > 1 && children.iter().any(|c| c == first) => module
                .split("::")
                .filter(|part| !part.is_empty())
                .map(str::to_string)
                .collect(),
            _ => continue,
        };
        let prefix: Vec<String> = base
            .into_iter()
            .chain(
                segments
                    .iter()
                    .filter(|s| !s.is_empty() && !s.starts_with('{'))
                    .map(|s| s.to_string()),
            )
            .collect();
        match path.find('{') {
            None => paths.push(prefix.join("::")),
            Some(open) => {
                let inner = &path[open + 1..path.len().saturating_sub(1)];
                for member in split_group(inner) {
                    let member = member.trim();
                    let member = member.split(" as ").next().unwrap_or(member).trim();
                    let mut full = prefix.clone();
                    if !member.is_empty() && member != "self" {
                        full.extend(
                            member
                                .split("::")
                                .take_while(|s| !s.starts_with('{'))
                                .map(str::to_string),
                        );
                    }
                    paths.push(full.join("::"));
                }
            }
        }
    }
    paths
}

/// Where the path starting at `start` ends: identifiers joined by `::`, and at most one
/// trailing `{ … }` group (nested groups included).
fn path_end(code: &str, start: usize) -> usize {
    let bytes = code.as_bytes();
    let mut index = start;
    loop {
        while index < bytes.len() && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_')
        {
            index += 1;
        }
        if !bytes[index..].starts_with(b"::") {
            return index;
        }
        index += 2;
        if bytes.get(index) == Some(&b'{') {
            let mut depth = 0;
            while index < bytes.len() {
                match bytes[index] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return index + 1;
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
            return index;
        }
    }
}

/// The members of a group, split at its top-level commas.
fn split_group(inner: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                members.push(&inner[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    members.push(&inner[start..]);
    members
}

/// The longest prefix of `path` that is a module file.
fn longest_module_prefix(files: &BTreeMap<String, String>, path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    while !segments.is_empty() {
        let candidate = segments.join("::");
        if files.contains_key(&candidate) {
            return Some(candidate);
        }
        segments.pop();
    }
    None
}
