//! The module graph of one crate's sources, for tidy's "no module cycles" rule.
//!
//! A text scan, not a compiler: a module depends on another when its code names it —
//! `crate::a::b…` (also inside `use crate::{…}` groups), `super::…`, a child module by
//! its bare name, or an item the crate root re-exports (`pub use engine::Engine`,
//! the `prelude`). Re-exports are facades, not dependencies. Test modules (from `#[cfg(test)]` on) are left out: tests may reach
//! anywhere. Comments and string literals are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::Result;

/// Module path (`backup::create`; the crate root is `""`) → the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> Result<Graph> {
    let mut texts = BTreeMap::new();
    collect(src, src, &mut texts)?;
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let exports = root_exports(texts.get("").map_or("", String::as_str), &modules);
    let mut graph = Graph::new();
    for (module, text) in &texts {
        // A re-export (`pub use child::Item`) is a facade, not a dependency.
        let code: String = code_of(text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("pub use "))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut names = BTreeSet::new();
        crate_paths(&code, &modules, &exports, &mut names);
        super_paths(module, &code, &modules, &mut names);
        child_paths(module, &code, &modules, &mut names);
        names.remove(module);
        names.remove("");
        graph.insert(module.clone(), names);
    }
    Ok(graph)
}

/// The cycles among the children of each module (a module's own file counts as one of
/// them), each as the names in it.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let parents: BTreeSet<&str> = graph.keys().map(|m| parent(m)).collect();
    for scope in parents {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, tos) in graph {
            let Some(a) = within(scope, from) else {
                continue;
            };
            for to in tos {
                if let Some(b) = within(scope, to)
                    && a != b
                {
                    edges.entry(a.clone()).or_default().insert(b);
                }
            }
        }
        found.extend(strongly_connected(&edges));
    }
    found
}

/// `module` seen from inside `scope`: the child of `scope` it is or lies in, or the
/// scope itself (`scope`'s own file); `None` outside the scope. The crate root's own
/// file is not a node (it declares and re-exports every module).
fn within(scope: &str, module: &str) -> Option<String> {
    if module == scope {
        return (!scope.is_empty()).then(|| scope.to_owned());
    }
    let rest = if scope.is_empty() {
        module
    } else {
        module.strip_prefix(scope)?.strip_prefix("::")?
    };
    let child = rest.split("::").next()?;
    Some(join(scope, child))
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map_or("", |(p, _)| p)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_owned()
    } else {
        format!("{base}::{name}")
    }
}

fn collect(src: &Path, dir: &Path, texts: &mut BTreeMap<String, String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(src, &path, texts)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src)?.with_extension("");
        let mut parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        texts.insert(parts.join("::"), fs::read_to_string(&path)?);
    }
    Ok(())
}

/// The text without comments, string and char literals, and test code.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut code = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                code.push_str("\"\"");
            }
            _ => code.push(c),
        }
    }
    code
}

/// Items the crate root re-exports (`pub use a::b::Item;`, and the items of an inline
/// `prelude`) → the modules they come from.
fn root_exports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut exports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inline = None;
    for line in code_of(root).lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|l| l.strip_suffix(" {"))
        {
            inline = Some(name.to_owned());
            continue;
        }
        if line == "}" {
            inline = None;
            continue;
        }
        let Some(path) = line
            .strip_prefix("pub use ")
            .and_then(|l| l.strip_suffix(';'))
        else {
            continue;
        };
        let path = path.strip_prefix("crate::").unwrap_or(path);
        let segments: Vec<&str> = path.split("::").collect();
        let Some(module) = longest_module(&segments, modules) else {
            continue;
        };
        let item = inline
            .clone()
            .unwrap_or_else(|| (*segments.last().unwrap_or(&"")).to_owned());
        exports.entry(item).or_default().insert(module);
    }
    exports
}

/// The longest prefix of `segments` that is a module of the crate.
fn longest_module(segments: &[&str], modules: &BTreeSet<String>) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// Every `crate::…` path, groups expanded.
fn crate_paths(
    code: &str,
    modules: &BTreeSet<String>,
    exports: &BTreeMap<String, BTreeSet<String>>,
    names: &mut BTreeSet<String>,
) {
    for (at, _) in code.match_indices("crate::") {
        let preceded = code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded {
            continue;
        }
        for path in paths_at(&code[at + "crate::".len()..]) {
            let segments: Vec<&str> = path.split("::").collect();
            if let Some(module) = longest_module(&segments, modules) {
                names.insert(module);
            } else if let Some(from) = exports.get(segments[0]) {
                names.extend(from.iter().cloned());
            }
        }
    }
}

/// `super::…` paths, resolved from the module's parent.
fn super_paths(module: &str, code: &str, modules: &BTreeSet<String>, names: &mut BTreeSet<String>) {
    if module.is_empty() {
        return;
    }
    let base = parent(module);
    for (at, _) in code.match_indices("super::") {
        for path in paths_at(&code[at + "super::".len()..]) {
            let full = join(base, &path);
            let segments: Vec<&str> = full.split("::").collect();
            let target = longest_module(&segments, modules).unwrap_or_else(|| base.to_owned());
            names.insert(target);
        }
    }
}

/// A module's children named by their bare name (`create::run`, `use catalog::X`).
fn child_paths(module: &str, code: &str, modules: &BTreeSet<String>, names: &mut BTreeSet<String>) {
    let children = modules
        .iter()
        .filter(|m| !m.is_empty() && parent(m) == module);
    for child in children {
        let name = child.rsplit("::").next().unwrap_or(child);
        let pattern = format!("{name}::");
        for (at, _) in code.match_indices(&pattern) {
            let before = code[..at].chars().next_back();
            let bare = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
            if bare || code[..at].ends_with("self::") {
                names.insert(child.clone());
            }
        }
    }
}

/// The paths that start at `text`: one (`a::b::C`) or a group's (`{a, b::{C, D}}`).
fn paths_at(text: &str) -> Vec<String> {
    let mut prefix = String::new();
    for (i, c) in text.char_indices() {
        if c == '{' {
            let group = &text[i + 1..];
            return group_items(group)
                .into_iter()
                .flat_map(|item| {
                    paths_at(item)
                        .into_iter()
                        .map(|p| format!("{prefix}{p}"))
                        .collect::<Vec<_>>()
                })
                .collect();
        }
        if c.is_alphanumeric() || c == '_' || c == ':' {
            prefix.push(c);
        } else {
            break;
        }
    }
    let path = prefix.trim_end_matches(':').to_owned();
    if path.is_empty() {
        Vec::new()
    } else {
        vec![path]
    }
}

/// The top-level items of a group that starts right after its `{`.
fn group_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(group[start..i].trim());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// Tarjan's strongly connected components of more than one node.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            for next in self.edges.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let at = self.stack.iter().rposition(|n| *n == node).unwrap_or(0);
                let component: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    for component in &mut walk.found {
        component.sort();
    }
    walk.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_expand_to_their_paths() {
        assert_eq!(
            paths_at("{Engine, jobs::{JobCtx, spec::X}, backup};"),
            ["Engine", "jobs::JobCtx", "jobs::spec::X", "backup"]
        );
        assert_eq!(paths_at("jobs::JobCtx;"), ["jobs::JobCtx"]);
    }

    #[test]
    fn comments_and_strings_are_not_code() {
        let code = code_of(
            "let a = \"crate::x\"; // crate::y\nuse crate::z;\n#[cfg(test)]\nuse crate::w;",
        );
        assert!(!code.contains("crate::x") && !code.contains("crate::y"));
        assert!(code.contains("crate::z") && !code.contains("crate::w"));
    }

    #[test]
    fn a_cycle_among_siblings_is_found_and_a_chain_is_not() {
        let edge =
            |a: &str, b: &[&str]| (a.to_owned(), b.iter().map(|s| (*s).to_owned()).collect());
        let graph: Graph = [
            edge("jobs", &["error"]),
            edge("jobs::progress", &["jobs"]),
            edge("backup", &["jobs"]),
            edge("backup::create", &["backup", "jobs::progress"]),
            edge("error", &[]),
        ]
        .into_iter()
        .collect();
        assert!(cycles(&graph).is_empty());
        let mut looped = graph;
        looped.insert("jobs".to_owned(), ["backup".to_owned()].into());
        assert_eq!(
            cycles(&looped),
            [vec!["backup".to_owned(), "jobs".to_owned()]]
        );
    }
}
