//! The layers of `src/` (lib.rs lists them): every `crate::` import of a module points to a
//! module of a lower layer, so imports never run up or in circles. Read from the source, test
//! modules left out.

use std::collections::BTreeMap;
use std::path::Path;

/// Top first; a module may import only modules of the layers below its own.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["tui"],
    &["repl", "batch", "serve", "inspect"],
    &["controller"],
    &["output"],
    &["engine", "script"],
    &["check", "explain", "message", "render", "target"],
    &["proto"],
    &["net"],
    &["secret", "excerpt"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The source of a file without its test module (`#[cfg(test)] mod tests` and what follows).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        assert!(
            layer_of(&top).is_some(),
            "src/{rel}: module {top} is in no layer (add it to LAYERS and to lib.rs)"
        );
        let text = std::fs::read_to_string(file).unwrap();
        let code = without_tests(&text);
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                imports
                    .entry(top.clone())
                    .or_default()
                    .entry(name)
                    .or_insert_with(|| rel.clone());
            }
        }
    }
    let mut wrong = Vec::new();
    for (from, tos) in &imports {
        let lf = layer_of(from).unwrap();
        for (to, file) in tos {
            match layer_of(to) {
                Some(lt) if lt > lf => {}
                _ => wrong.push(format!("src/{file}: {from} imports {to}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{}",
        wrong.join("\n")
    );
    // The check sees the imports at all.
    assert!(imports["controller"].contains_key("engine"), "{imports:?}");
}
