//! The rules of Coinsence, free of any web, chat or payment framework.

pub mod archive;
pub mod billing;
pub mod chat;
// The chat adapters' memory across restarts (issue 14, away).
pub mod chat_catch_up;
pub mod exchange;
pub mod follow_up;
pub mod governance;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod joining_grant;
pub mod languages;
pub mod ledger;
pub mod money;
pub mod orgs;
pub mod portal_charts;
pub mod portal_journal;
pub mod portal_sessions;
pub mod spare_schemas;
pub mod tenancy;
pub mod text;
pub(crate) mod text_enum;

/// How many inputs each property test of a parser tries: `COINSENCE_FUZZ_CASES`, or a number
/// small enough for CI (a dedicated run sets a million).
#[cfg(test)]
pub(crate) fn fuzz_cases() -> u32 {
    std::env::var("COINSENCE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// The domain reads bottom-up: no two of its modules (files) import each other, directly or
/// through others. Only `impl Core` blocks reach up to `crate::core`, which is outside the domain
/// and so not counted. Paths are read from `use` statements (braces expanded) and from
/// `crate::domain::..` / `super::..` paths in code; test modules and comments are left out.
#[cfg(test)]
mod import_cycles {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    type Module = Vec<String>;

    fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_else(|| panic!("{} is no UTF-8 name", path.display()))
                .to_owned();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                modules(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                if name != "mod" {
                    module.push(name);
                }
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                out.insert(module, without_tests_and_comments(&text));
            }
        }
    }

    fn without_tests_and_comments(text: &str) -> String {
        let mut code = text;
        let mut from = 0;
        while let Some(at) = code[from..].find("#[cfg(test)]") {
            let at = from + at;
            if code[at + "#[cfg(test)]".len()..]
                .trim_start()
                .starts_with("mod ")
            {
                code = &code[..at];
                break;
            }
            from = at + 1;
        }
        code.lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn is_ident(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    /// `a::{b, c::{d, self}}` as `a::b`, `a::c::d`, `a::c::self`.
    fn expand(tree: &str) -> Vec<String> {
        let tree = tree.trim();
        let Some(open) = tree.find('{') else {
            return vec![tree.to_owned()];
        };
        let Some(close) = tree.rfind('}').filter(|c| *c > open) else {
            return vec![tree.to_owned()];
        };
        let (prefix, inner) = (&tree[..open], &tree[open + 1..close]);
        let mut parts = vec![String::new()];
        let mut depth = 0;
        for c in inner.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(String::new());
                    continue;
                }
                _ => {}
            }
            if let Some(part) = parts.last_mut() {
                part.push(c);
            }
        }
        parts
            .iter()
            .filter(|p| !p.trim().is_empty())
            .flat_map(|p| expand(p))
            .map(|p| format!("{prefix}{p}"))
            .collect()
    }

    /// Every path the code names: expanded `use` trees, then `crate::domain::..` and
    /// `super::..` paths elsewhere.
    fn paths(code: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = String::new();
        let mut at = 0;
        while let Some(i) = code[at..].find("use ") {
            let i = at + i;
            // A statement, not the word in a sentence: only visibility may precede it on its line.
            let line_start = code[..i].rfind('\n').map_or(0, |n| n + 1);
            let before = code[line_start..i].trim();
            let starts_word = before.is_empty() || before.starts_with("pub");
            let end = code[i..].find(';').map(|e| i + e);
            match end {
                Some(end) if starts_word => {
                    rest.push_str(&code[at..i]);
                    found.extend(expand(&code[i + 4..end]));
                    at = end + 1;
                }
                _ => {
                    rest.push_str(&code[at..i + 4]);
                    at = i + 4;
                }
            }
        }
        rest.push_str(&code[at..]);
        for start in ["crate::domain::", "super::"] {
            let mut from = 0;
            while let Some(i) = rest[from..].find(start) {
                let i = from + i;
                let end = rest[i..]
                    .find(|c: char| !is_ident(c) && c != ':')
                    .map_or(rest.len(), |e| i + e);
                if rest[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !is_ident(c) && c != ':')
                {
                    found.push(rest[i..end].to_owned());
                }
                from = end.max(i + 1);
            }
        }
        found
    }

    /// The domain module a path names (the longest known prefix), if it is in the domain.
    fn resolve(from: &Module, path: &str, known: &BTreeMap<Module, String>) -> Option<Module> {
        let path = path.split(" as ").next().unwrap_or(path);
        let segments: Vec<&str> = path.split("::").map(str::trim).collect();
        let (mut module, rest): (Module, &[&str]) = match segments.as_slice() {
            ["crate", "domain", rest @ ..] => (Vec::new(), rest),
            ["crate", ..] => return None,
            [first, ..] if *first == "super" || *first == "self" => (from.clone(), &segments),
            [first, ..] => {
                let mut child = from.clone();
                child.push((*first).to_owned());
                if !known.contains_key(&child) {
                    return None;
                }
                (from.clone(), &segments)
            }
            [] => return None,
        };
        let mut rest = rest.iter().peekable();
        while let Some(s) = rest.next_if(|s| **s == "super" || **s == "self") {
            if *s == "super" {
                module.pop();
            }
        }
        module.extend(
            rest.filter(|s| **s != "self" && !s.is_empty())
                .map(|s| s.to_string()),
        );
        while !known.contains_key(&module) {
            module.pop();
        }
        Some(module)
    }

    #[test]
    fn domain_modules_import_each_other_in_no_circle() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut known = BTreeMap::new();
        modules(&dir, &[], &mut known);
        assert!(known.len() > 20, "the domain's files were found");
        let mut imports: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, code) in &known {
            let targets = paths(code)
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                // The domain root only declares its modules.
                .filter(|t| t != module && !t.is_empty())
                .collect();
            imports.insert(module.clone(), targets);
        }
        // Depth-first search; a module met again while still on the stack closes a circle.
        fn visit(
            module: &Module,
            imports: &BTreeMap<Module, BTreeSet<Module>>,
            stack: &mut Vec<Module>,
            done: &mut BTreeSet<Module>,
        ) -> Option<Vec<Module>> {
            if let Some(at) = stack.iter().position(|m| m == module) {
                let mut circle = stack[at..].to_vec();
                circle.push(module.clone());
                return Some(circle);
            }
            if done.contains(module) {
                return None;
            }
            stack.push(module.clone());
            for next in imports.get(module).into_iter().flatten() {
                if let Some(circle) = visit(next, imports, stack, done) {
                    return Some(circle);
                }
            }
            stack.pop();
            done.insert(module.clone());
            None
        }
        let (mut stack, mut done) = (Vec::new(), BTreeSet::new());
        for module in imports.keys() {
            if let Some(circle) = visit(module, &imports, &mut stack, &mut done) {
                let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
                panic!(
                    "domain modules import each other in a circle: {}",
                    names.join(" -> ")
                );
            }
        }
    }
}
