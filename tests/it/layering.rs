//! The dependency rule, checked: modules form layers and a module uses only modules of lower
//! layers (ARCHITECTURE.md, "Dependencies run one way"), and no two files use each other,
//! directly or through others. A sentence in a document drifts; this test fails the build on
//! the first backward `use`.
//!
//! The check reads the source, not the compiler's view: every `crate::`, `super::` and
//! `self::` path, grouped `use crate::{a, b::{c, d}}` lists, and paths that start with a child
//! module's name, outside comments and outside `#[cfg(test)] mod tests`. A `pub use`
//! re-export is a module's public face, not a dependency, and is left out (a parent that
//! re-exports its children would otherwise form a cycle with every child that names it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules of the `reactbench` library, lowest layer first. A module may use any
/// module of a strictly lower layer, and none of its own layer or above. A new top-level
/// module must be placed here.
const LAYERS: &[&[&str]] = &[
    // Vocabulary: units, chat types.
    &["units", "chat"],
    // What a conversation leaves behind, tokenizers, price tables.
    &["record", "tokens", "pricing"],
    // Speaking OpenAI's HTTP API.
    &["client"],
    // The agent stack.
    &["agent"],
    // Histograms and counters.
    &["metrics"],
    // The endpoint's own metrics, scraped; the run's, served live.
    &["observe"],
    // Report files and terminal output.
    &["report"],
    // Scenario file to plan (knows every setting of the layers below).
    &["scenario"],
    // Load models and virtual users.
    &["runner"],
    // Command-line types and exit codes.
    &["cli"],
    // One module per command.
    &[
        "run",
        "compare_cmd",
        "merge_cmd",
        "prices_cmd",
        "report_cmd",
        "sanitize_cmd",
    ],
    // Commands made of other commands (a sweep is a series of runs).
    &["sweep_cmd"],
];

type Module = Vec<String>;

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// Module path of a source file under `root` (`lib.rs` is the crate root, `a/mod.rs` is `a`).
fn module_of(root: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(root)
        .expect("under root")
        .with_extension("");
    let mut segs: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segs == ["lib"] || segs == ["main"] {
        return Vec::new();
    }
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files of a crate, by module path; `main.rs` (a binary using the library by its
/// crate name) and test-only modules are left out.
fn crate_sources(root: &Path) -> BTreeMap<Module, String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("readable source");
            (module_of(root, &f), text)
        })
        .filter(|(m, _)| !m.iter().any(|s| s == "tests"))
        .collect()
}

/// The code of a file that counts: no `#[cfg(test)] mod tests { .. }` (by convention the last
/// item), no comments, no `pub use` re-exports.
fn production_code(text: &str) -> String {
    let mut code = text;
    if let Some(i) = text.find("#[cfg(test)]\nmod tests {") {
        code = &text[..i];
    }
    let mut out = String::with_capacity(code.len());
    let mut in_reexport = false;
    for line in code.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let trimmed = line.trim_start();
        if trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ") {
            in_reexport = true;
        }
        if in_reexport {
            if line.contains(';') {
                in_reexport = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Expands a `use` tree body such as `a::{b, c::{d, e}}, f` into `a::b`, `a::c::d`, ...
fn expand_group(prefix: &str, body: &str, out: &mut Vec<String>) {
    let mut depth = 0usize;
    let mut start = 0usize;
    let bytes = body.as_bytes();
    let mut items = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    for item in items {
        let item = item.split(" as ").next().unwrap_or("").trim();
        if item.is_empty() || item == "self" {
            continue;
        }
        match item.find("::{") {
            Some(i) if item.ends_with('}') => {
                let head = format!("{prefix}::{}", &item[..i]);
                expand_group(&head, &item[i + 3..item.len() - 1], out);
            }
            _ => out.push(format!("{prefix}::{item}")),
        }
    }
}

/// Every path this code names, as written (`crate::a::b`, `super::c`, `self::d`, `child::e`).
fn named_paths(code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let path = regex::Regex::new(r"\b(?:crate|super|self)(?:::[A-Za-z_]\w*)+").unwrap();
    out.extend(path.find_iter(code).map(|m| m.as_str().to_string()));
    let group = regex::Regex::new(r"\b((?:crate|super|self)(?:::[A-Za-z_]\w*)*)::\{").unwrap();
    for m in group.captures_iter(code) {
        let whole = m.get(0).unwrap();
        let body_start = whole.end();
        let mut depth = 1usize;
        let mut end = body_start;
        for (i, c) in code[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = body_start + i;
                break;
            }
        }
        expand_group(&m[1], &code[body_start..end], &mut out);
    }
    let bare = regex::Regex::new(r"(?:^|[^\w:])([a-z_]\w*)::").unwrap();
    for m in bare.captures_iter(code) {
        if children.contains(&m[1]) {
            out.push(format!("self::{}", &m[1]));
        }
    }
    out
}

/// The module a path written in `from` refers to: the longest prefix that is a file.
fn resolve(from: &Module, path: &str, files: &BTreeSet<Module>) -> Module {
    let mut segs = path.split("::");
    let mut full: Module = match segs.next() {
        Some("crate") => Vec::new(),
        Some("self") => from.clone(),
        Some("super") => from[..from.len().saturating_sub(1)].to_vec(),
        _ => from.clone(),
    };
    let mut rest: Vec<&str> = segs.collect();
    while rest.first() == Some(&"super") {
        full.pop();
        rest.remove(0);
    }
    full.extend(rest.iter().map(|s| s.to_string()));
    while !full.is_empty() && !files.contains(&full) {
        full.pop();
    }
    full
}

/// File-to-file dependencies of a crate.
fn dependencies(sources: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let files: BTreeSet<Module> = sources.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, text) in sources {
        let children: BTreeSet<String> = files
            .iter()
            .filter(|f| f.len() == module.len() + 1 && f.starts_with(module))
            .map(|f| f[module.len()].clone())
            .collect();
        let code = production_code(text);
        let targets: BTreeSet<Module> = named_paths(&code, &children)
            .iter()
            .map(|p| resolve(module, p, &files))
            .filter(|t| t != module)
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

fn show(m: &Module) -> String {
    if m.is_empty() {
        "crate root".into()
    } else {
        m.join("::")
    }
}

/// Every use of a module of the same or a higher layer, and every module not in [`LAYERS`].
fn layering_violations(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in edges {
        let Some(top) = from.first() else { continue };
        let Some(from_layer) = layer_of(top) else {
            out.push(format!(
                "{}: top-level module `{top}` is in no layer; place it in LAYERS",
                show(from)
            ));
            continue;
        };
        for to in targets {
            let Some(to_top) = to.first() else {
                out.push(format!("{} uses the crate root", show(from)));
                continue;
            };
            if to_top == top {
                continue;
            }
            match layer_of(to_top) {
                Some(to_layer) if to_layer < from_layer => {}
                Some(to_layer) => out.push(format!(
                    "{} (layer {from_layer}) uses {} (layer {to_layer}): dependencies run \
                     downward only; move what both need into a lower layer",
                    show(from),
                    show(to)
                )),
                None => out.push(format!("{}: `{to_top}` is in no layer", show(to))),
            }
        }
    }
    out
}

/// Every cycle of file dependencies, each as the files on it (Tarjan's strongly connected
/// components of more than one file).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets {
                let Some((w, _)) = s.edges.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn problems(root: &Path, layered: bool) -> Vec<String> {
    let edges = dependencies(&crate_sources(root));
    assert!(
        edges.len() > 3,
        "found the sources under {}",
        root.display()
    );
    let mut out = if layered {
        layering_violations(&edges)
    } else {
        Vec::new()
    };
    for cycle in cycles(&edges) {
        let names: Vec<String> = cycle.iter().map(show).collect();
        out.push(format!("a cycle of dependencies: {}", names.join(" <-> ")));
    }
    out
}

#[test]
fn the_library_s_modules_use_only_lower_layers_and_no_file_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = problems(&root, true);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_mock_server_s_files_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mock-server/src");
    let problems = problems(&root, false);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn edges_of(files: &[(&str, &str)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let sources = files
        .iter()
        .map(|(m, text)| {
            let module = if m.is_empty() {
                Vec::new()
            } else {
                m.split("::").map(String::from).collect()
            };
            (module, text.to_string())
        })
        .collect();
    dependencies(&sources)
}

#[test]
fn a_backward_import_is_caught_in_every_form_it_can_be_written() {
    let forms = [
        "use crate::report::Summary;",
        "use crate::{chat::Message, report::summary::Summary};",
        "use crate::{chat, report::{summary::Summary, csv}};",
        "fn f() -> crate::report::summary::Summary { todo() }",
        "use super::report::Summary;",
    ];
    for form in forms {
        let edges = edges_of(&[
            ("", "pub mod client; pub mod report; pub mod chat;"),
            ("chat", ""),
            ("client", form),
            (
                "report",
                "pub use summary::Summary; use crate::client::Client;",
            ),
            ("report::summary", ""),
            ("report::csv", ""),
        ]);
        let found = layering_violations(&edges);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("client (layer 2) uses report")),
            "{form}: {found:?}"
        );
    }
}

#[test]
fn comments_tests_and_reexports_are_not_dependencies() {
    let edges = edges_of(&[
        ("", ""),
        (
            "client",
            "// see crate::report::Summary\n/// [`crate::report::Summary`]\n\
             pub use crate::report::Summary;\npub use crate::report::{\n    Summary,\n};\n\
             #[cfg(test)]\nmod tests {\n    use crate::report::Summary;\n}\n",
        ),
        ("report", ""),
    ]);
    assert!(layering_violations(&edges).is_empty(), "{edges:?}");
}

#[test]
fn a_cycle_between_two_files_of_one_module_is_caught() {
    let edges = edges_of(&[
        ("", ""),
        ("report", ""),
        ("report::summary", "use super::gates::ThresholdResult;"),
        ("report::gates", "use crate::report::summary::Summary;"),
        ("report::csv", "use super::summary::Summary;"),
    ]);
    let found = cycles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0],
        vec![
            vec!["report".to_string(), "gates".to_string()],
            vec!["report".to_string(), "summary".to_string()],
        ]
    );
}
