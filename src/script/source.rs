//! Reading script files.
//!
//! A line `:include FILE` (the first word compared case-insensitively, and shortened as any
//! meta-command may be: `:inc`) is replaced by the lines
//! of FILE, recursively; a relative FILE is taken from the directory of the file that includes
//! it (the current directory for a script read from standard input). Includes nest at most
//! [`MAX_INCLUDE_DEPTH`] deep, and a file that includes itself, directly or not, is an error
//! showing the chain. This happens when the script is loaded, before anything runs: an
//! `:include` line is expanded wherever it stands, and its FILE is not interpolated.
//!
//! Every other line is kept exactly as written, comments and blank lines included: whether a
//! `#` line is a comment depends on where the script is (inside SMTP message text it is data),
//! so the caller decides with [`is_comment`].

use std::io::Read;
use std::path::{Path, PathBuf};

/// How many `:include` steps may separate a file from the script that was loaded.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Lines in a script with everything it includes.
pub const MAX_LINES: usize = 1_000_000;

/// One line of a script, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptLine {
    /// The file as named on the command line or joined from `:include`; `-` for standard input.
    pub file: String,
    /// 1-based.
    pub line_no: usize,
    /// The line without its line ending.
    pub text: String,
}

/// Reads a script (`-` for standard input) with its includes expanded.
pub fn load(path: &Path) -> Result<Vec<ScriptLine>, String> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the script from standard input: {e}"))?;
        expand("-", &text, Path::new(""), &mut stack, &mut out)?;
    } else {
        include(path, None, &mut stack, &mut out)?;
    }
    Ok(out)
}

/// Whether a line is a comment: its first non-blank character is `#`.
pub fn is_comment(text: &str) -> bool {
    text.trim_start().starts_with('#')
}

/// Files being read, outermost first: (canonical path, name as shown).
type Stack = Vec<(PathBuf, String)>;

/// Reads `path` and expands it into `out`. `from` is the `file:line` of the `:include`.
fn include(
    path: &Path,
    from: Option<&str>,
    stack: &mut Stack,
    out: &mut Vec<ScriptLine>,
) -> Result<(), String> {
    let name = path.display().to_string();
    let at = from.map(|f| format!("{f}: ")).unwrap_or_default();
    let canonical =
        std::fs::canonicalize(path).map_err(|e| format!("{at}cannot read {name}: {e}"))?;
    if let Some(pos) = stack.iter().position(|(c, _)| *c == canonical) {
        let mut chain: Vec<&str> = stack
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .map(|(_, n)| n.as_str())
            .collect();
        chain.push(&name);
        return Err(format!("{at}include cycle: {}", chain.join(" -> ")));
    }
    if stack.len() > MAX_INCLUDE_DEPTH {
        return Err(format!(
            "{at}includes nested more than {MAX_INCLUDE_DEPTH} deep (including {name})"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}cannot read {name}: {e}"))?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    stack.push((canonical, name.clone()));
    let result = expand(&name, &text, &dir, stack, out);
    stack.pop();
    result
}

/// Splits `text` into lines, expanding `:include` relative to `dir`.
fn expand(
    name: &str,
    text: &str,
    dir: &Path,
    stack: &mut Stack,
    out: &mut Vec<ScriptLine>,
) -> Result<(), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        let line_no = index.saturating_add(1);
        if let Some(arg) = include_arg(line) {
            let here = format!("{name}:{line_no}");
            if arg.is_empty() {
                return Err(format!("{here}: :include needs a file name"));
            }
            include(&dir.join(arg), Some(&here), stack, out)?;
            continue;
        }
        if out.len() >= MAX_LINES {
            return Err(format!(
                "{name}:{line_no}: the script has more than {MAX_LINES} lines with its includes"
            ));
        }
        out.push(ScriptLine {
            file: name.to_string(),
            line_no,
            text: line.to_string(),
        });
    }
    Ok(())
}

/// The FILE of an `:include FILE` line (empty when missing), `None` for any other line. The
/// name may be shortened as every meta-command may (`:inc`, `:i`): [`INCLUDE_PREFIX`] is the
/// shortest unique prefix, which the meta-command table's tests hold to.
fn include_arg(line: &str) -> Option<&str> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let word = word.to_ascii_lowercase();
    (word.starts_with(INCLUDE_PREFIX) && ":include".starts_with(&word)).then(|| rest.trim())
}

/// The shortest prefix that names `:include` and no other meta-command.
pub const INCLUDE_PREFIX: &str = ":i";

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn lines(v: &[ScriptLine]) -> Vec<String> {
        v.iter()
            .map(|l| format!("{}:{}:{}", l.file, l.line_no, l.text))
            .collect()
    }

    #[test]
    fn comments() {
        assert!(is_comment("# a comment"));
        assert!(is_comment("   \t#indented"));
        assert!(is_comment("#"));
        assert!(!is_comment(""));
        assert!(!is_comment("   "));
        assert!(!is_comment("EHLO x # not a comment"));
        assert!(!is_comment(":expect 250"));
    }

    #[test]
    fn plain_file_is_kept_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.mts");
        fs::write(
            &p,
            "\u{feff}# greeting\r\n:expect 220\r\n\r\n  EHLO x  \n#data?\n:includes no\nlast",
        )
        .unwrap();
        let name = p.display().to_string();
        let got = load(&p).unwrap();
        assert_eq!(
            lines(&got),
            vec![
                format!("{name}:1:# greeting"),
                format!("{name}:2::expect 220"),
                format!("{name}:3:"),
                format!("{name}:4:  EHLO x  "),
                format!("{name}:5:#data?"),
                format!("{name}:6::includes no"),
                format!("{name}:7:last"),
            ]
        );
    }

    #[test]
    fn includes_are_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("lib/sub")).unwrap();
        fs::write(
            root.join("main.mts"),
            "EHLO x\n:include lib/auth.mts\n  :INC   lib/auth.mts  \nQUIT\n",
        )
        .unwrap();
        fs::write(
            root.join("lib/auth.mts"),
            "AUTH PLAIN\n:include sub/pw.mts\n:expect 235\n",
        )
        .unwrap();
        fs::write(root.join("lib/sub/pw.mts"), "${MAILTALK_PASSWORD}\n").unwrap();
        let main = root.join("main.mts");
        let r = root.display().to_string();
        let got = load(&main).unwrap();
        assert_eq!(
            lines(&got),
            vec![
                format!("{r}/main.mts:1:EHLO x"),
                format!("{r}/lib/auth.mts:1:AUTH PLAIN"),
                format!("{r}/lib/sub/pw.mts:1:${{MAILTALK_PASSWORD}}"),
                format!("{r}/lib/auth.mts:3::expect 235"),
                format!("{r}/lib/auth.mts:1:AUTH PLAIN"),
                format!("{r}/lib/sub/pw.mts:1:${{MAILTALK_PASSWORD}}"),
                format!("{r}/lib/auth.mts:3::expect 235"),
                format!("{r}/main.mts:4:QUIT"),
            ]
        );
    }

    #[test]
    fn missing_include_and_missing_name() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().display().to_string();
        let main = dir.path().join("main.mts");
        fs::write(&main, "NOOP\n:include nope.mts\n").unwrap();
        assert_eq!(
            load(&main),
            Err(format!(
                "{r}/main.mts:2: cannot read {r}/nope.mts: No such file or directory (os error 2)"
            ))
        );
        fs::write(&main, "NOOP\n:include   \n").unwrap();
        assert_eq!(
            load(&main),
            Err(format!("{r}/main.mts:2: :include needs a file name"))
        );
        let absent = dir.path().join("absent.mts");
        assert_eq!(
            load(&absent),
            Err(format!(
                "cannot read {r}/absent.mts: No such file or directory (os error 2)"
            ))
        );
        fs::write(&main, b"NOOP\n\xff\n").unwrap();
        assert_eq!(
            load(&main),
            Err(format!(
                "cannot read {r}/main.mts: stream did not contain valid UTF-8"
            ))
        );
    }

    #[test]
    fn include_cycles_are_reported_with_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().display().to_string();
        fs::write(dir.path().join("a.mts"), "A\n:include b.mts\n").unwrap();
        fs::write(dir.path().join("b.mts"), "B\n\n:include ./a.mts\n").unwrap();
        assert_eq!(
            load(&dir.path().join("a.mts")),
            Err(format!(
                "{r}/b.mts:3: include cycle: {r}/a.mts -> {r}/b.mts -> {r}/./a.mts"
            ))
        );
        fs::write(dir.path().join("self.mts"), ":include self.mts\n").unwrap();
        assert_eq!(
            load(&dir.path().join("self.mts")),
            Err(format!(
                "{r}/self.mts:1: include cycle: {r}/self.mts -> {r}/self.mts"
            ))
        );
    }

    #[test]
    fn standard_input_includes_from_the_base_directory() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().display().to_string();
        fs::write(dir.path().join("inc.mts"), "included\n").unwrap();
        let mut out = Vec::new();
        expand(
            "-",
            "one\n:include inc.mts\nthree",
            dir.path(),
            &mut Vec::new(),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            lines(&out),
            vec![
                "-:1:one".to_string(),
                format!("{r}/inc.mts:1:included"),
                "-:3:three".to_string(),
            ]
        );
    }

    #[test]
    fn include_depth_is_limited() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().display().to_string();
        // f0 includes f1 … includes f16: sixteen steps, allowed.
        for i in 0..16 {
            fs::write(
                dir.path().join(format!("f{i}.mts")),
                format!("line {i}\n:include f{}.mts\n", i + 1),
            )
            .unwrap();
        }
        fs::write(dir.path().join("f16.mts"), "bottom\n").unwrap();
        let got = load(&dir.path().join("f0.mts")).unwrap();
        assert_eq!(got.len(), 17);
        assert_eq!(got[16].text, "bottom");
        assert_eq!(got[16].file, format!("{r}/f16.mts"));
        // One more step is refused.
        fs::write(dir.path().join("f16.mts"), "bottom\n:include f17.mts\n").unwrap();
        fs::write(dir.path().join("f17.mts"), "too deep\n").unwrap();
        assert_eq!(
            load(&dir.path().join("f0.mts")),
            Err(format!(
                "{r}/f16.mts:2: includes nested more than 16 deep (including {r}/f17.mts)"
            ))
        );
    }
}
