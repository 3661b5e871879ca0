//! Maildir on disk (the layout of cr.yp.to/proto/maildir.html that mail tools read): a message
//! is written to `tmp/`, flushed, and renamed into `new/`, so a stop at any moment leaves either
//! the whole message or none. Flags live in the name (`:2,FS`); the UID too (`,U=7`), so UIDs
//! survive restarts; UIDVALIDITY is kept in `.mailtalk-uidvalidity`.
//!
//! With `--catch-all` the directory itself is the Maildir; otherwise each mailbox is a Maildir in
//! a subdirectory named after the address (made safe for a file name).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a folder keeps its UIDVALIDITY.
const UIDVALIDITY_FILE: &str = ".mailtalk-uidvalidity";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A message written to `tmp/`, waiting for its UID.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    base: String,
}

impl Drop for Staged {
    /// A copy that never got its UID (the delivery failed on the way) leaves nothing behind.
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// One Maildir.
#[derive(Debug)]
pub struct Maildir {
    dir: PathBuf,
    uid_validity: u32,
}

/// A message file found when loading.
#[derive(Debug)]
pub struct Loaded {
    pub uid: u32,
    pub size: u64,
    pub flags: Vec<String>,
    pub received: i64,
    pub path: PathBuf,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// Longest directory name made for a mailbox.
const MAX_DIR_NAME: usize = 200;
/// Where a mailbox's Maildir keeps the mailbox's full name (for names too long to spell out in
/// the directory name).
const NAME_FILE: &str = ".mailtalk-mailbox";
/// The lock that keeps a second server off the same Maildir.
const LOCK_FILE: &str = ".mailtalk-lock";

fn safe_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"@._+-".contains(&b)
}

/// A mailbox name made safe as a directory name, one directory per name: lower case letters,
/// digits and `@._+-` as they are, every other byte as `%XX` (so `/`, `..`, NUL and unicode
/// cannot reach the path, and two addresses never share a directory), no leading dot, at most
/// 200 bytes (a longer name is cut and followed by `~` and a hash of the whole name).
pub fn dir_name(mailbox: &str) -> String {
    let lower = mailbox.to_ascii_lowercase();
    if lower.is_empty() {
        return "%".to_string();
    }
    let mut s = String::new();
    for (i, b) in lower.bytes().enumerate() {
        if safe_byte(b) && !(i == 0 && b == b'.') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.len() <= MAX_DIR_NAME {
        return s;
    }
    let digest = openssl::sha::sha256(lower.as_bytes());
    let hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let mut cut = MAX_DIR_NAME.saturating_sub(hash.len()).saturating_sub(1);
    // Not in the middle of a `%XX`.
    while cut > 0
        && s.as_bytes()
            .get(cut.saturating_sub(2)..cut)
            .is_some_and(|w| w.contains(&b'%'))
    {
        cut = cut.saturating_sub(1);
    }
    s.truncate(cut);
    s.push('~');
    s.push_str(&hash);
    s
}

/// The mailbox name a directory name spells (`None` when it is not one `dir_name` makes in
/// full).
fn mailbox_of(dir: &str) -> Option<String> {
    if dir == "%" {
        return Some(String::new());
    }
    let mut bytes = Vec::new();
    let mut rest = dir.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// An exclusive hold on a Maildir root for as long as the server runs: two servers on one
/// Maildir would give out the same UIDs.
#[derive(Debug)]
pub struct RootLock {
    _file: std::fs::File,
}

impl RootLock {
    pub fn take(root: &Path) -> Result<RootLock, String> {
        let path = root.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("open", &path, e))?;
        #[cfg(unix)]
        if let Err(e) =
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        {
            return Err(if e == rustix::io::Errno::WOULDBLOCK {
                format!(
                    "{} is in use by another mailtalk serve (two servers on one Maildir would \
                     give out the same UIDs)",
                    root.display()
                )
            } else {
                io("lock", &path, e.into())
            });
        }
        Ok(RootLock { _file: file })
    }
}

/// IMAP flags as Maildir info letters (sorted, as the format wants).
fn letters(flags: &[String]) -> String {
    let mut l: Vec<char> = flags
        .iter()
        .filter_map(|f| match f.to_ascii_lowercase().as_str() {
            "\\draft" => Some('D'),
            "\\flagged" => Some('F'),
            "\\answered" => Some('R'),
            "\\seen" => Some('S'),
            "\\deleted" => Some('T'),
            _ => None,
        })
        .collect();
    l.sort_unstable();
    l.dedup();
    l.into_iter().collect()
}

fn flags_of(letters: &str) -> Vec<String> {
    letters
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft"),
            'F' => Some("\\Flagged"),
            'R' => Some("\\Answered"),
            'S' => Some("\\Seen"),
            'T' => Some("\\Deleted"),
            _ => None,
        })
        .map(str::to_string)
        .collect()
}

/// `base,U=7:2,S` → (`base`, Some(7), Some("S")).
fn parse_name(name: &str) -> (&str, Option<u32>, Option<&str>) {
    let (stem, info) = match name.split_once(":2,") {
        Some((s, i)) => (s, Some(i)),
        None => (name, None),
    };
    let (base, uid) = match stem.rsplit_once(",U=") {
        Some((b, u)) => match u.parse::<u32>() {
            Ok(n) => (b, Some(n)),
            Err(_) => (stem, None),
        },
        None => (stem, None),
    };
    (base, uid, info)
}

impl Maildir {
    /// `fresh`: the UIDVALIDITY to give a Maildir that has none yet.
    fn at(dir: PathBuf, fresh: u32) -> Result<Maildir, String> {
        for sub in ["tmp", "new", "cur"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| io("create", &p, e))?;
        }
        let file = dir.join(UIDVALIDITY_FILE);
        let uid_validity = match std::fs::read_to_string(&file) {
            Ok(text) => text.trim().parse::<u32>().ok().filter(|n| *n > 0),
            Err(_) => None,
        };
        let uid_validity = match uid_validity {
            Some(v) => v,
            None => {
                let v = fresh.max(1);
                std::fs::write(&file, format!("{v}\n")).map_err(|e| io("write", &file, e))?;
                v
            }
        };
        Ok(Maildir { dir, uid_validity })
    }

    /// The Maildir of `mailbox` under `root` (made if missing).
    pub fn create(
        root: &Path,
        mailbox: &str,
        catch_all: bool,
        fresh: u32,
    ) -> Result<Maildir, String> {
        if catch_all {
            return Maildir::at(root.to_path_buf(), fresh);
        }
        let md = Maildir::at(root.join(dir_name(mailbox)), fresh)?;
        let file = md.dir.join(NAME_FILE);
        if !file.exists() {
            std::fs::write(&file, mailbox.as_bytes()).map_err(|e| io("write", &file, e))?;
        }
        Ok(md)
    }

    /// The Maildirs already under `root`, with their mailbox names.
    pub fn open_all(
        root: &Path,
        catch_all: bool,
        fresh: u32,
    ) -> Result<Vec<(String, Maildir)>, String> {
        if catch_all {
            return Ok(vec![(
                "*".to_string(),
                Maildir::at(root.to_path_buf(), fresh)?,
            )]);
        }
        let mut found = Vec::new();
        let entries = std::fs::read_dir(root).map_err(|e| io("read", root, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.join("cur").is_dir() && path.join("new").is_dir() {
                if let Some(dir) = path.file_name().and_then(|n| n.to_str()) {
                    // The name kept beside the mail (when it is the one this directory is
                    // for), else the one the directory spells, else the directory's own.
                    let kept = std::fs::read(path.join(NAME_FILE))
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .filter(|n| dir_name(n) == dir);
                    let name = kept
                        .or_else(|| mailbox_of(dir).filter(|n| dir_name(n) == dir))
                        .unwrap_or_else(|| dir.to_string());
                    found.push((name, Maildir::at(path.clone(), fresh)?));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// The messages in `new/` and `cur/`, in UID order. Files without a UID (put there by
    /// another program) get the next ones, in name order, and are renamed to keep them.
    pub fn load(&self) -> Result<(u32, Vec<Loaded>), String> {
        let mut with_uid = Vec::new();
        let mut without = Vec::new();
        for sub in ["new", "cur"] {
            let d = self.dir.join(sub);
            let entries = std::fs::read_dir(&d).map_err(|e| io("read", &d, e))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let received = meta
                    .modified()
                    .ok()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok())
                    .map(|t| t.as_second())
                    .unwrap_or(0);
                let (_, uid, info) = parse_name(&name);
                let loaded = Loaded {
                    uid: uid.unwrap_or(0),
                    size: meta.len(),
                    flags: info.map(flags_of).unwrap_or_default(),
                    received,
                    path,
                };
                match uid {
                    Some(_) => with_uid.push(loaded),
                    None => without.push((name, loaded)),
                }
            }
        }
        with_uid.sort_by(|a, b| a.uid.cmp(&b.uid).then_with(|| a.path.cmp(&b.path)));
        // Two files with one UID (copied by hand, or an older run): the later ones get new
        // UIDs rather than vanishing from view.
        let mut seen = std::collections::HashSet::new();
        let (kept, twins): (Vec<Loaded>, Vec<Loaded>) =
            with_uid.into_iter().partition(|l| seen.insert(l.uid));
        let mut with_uid = kept;
        let mut without: Vec<(String, Loaded)> = without;
        for l in twins {
            let name = l
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            without.push((name, l));
        }
        let mut next = with_uid.last().map(|l| l.uid).unwrap_or(0);
        without.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut l) in without {
            next = next.saturating_add(1);
            let (base, _, info) = parse_name(&name);
            let new_name = match info {
                Some(i) => format!("{base},U={next}:2,{i}"),
                None => format!("{base},U={next}"),
            };
            let dest = l.path.with_file_name(new_name);
            if std::fs::rename(&l.path, &dest).is_ok() {
                l.path = dest;
            }
            l.uid = next;
            with_uid.push(l);
        }
        Ok((self.uid_validity, with_uid))
    }

    /// Writes a new message with `uid`: to `tmp/`, flushed to disk, then into `new/`.
    pub fn write(&self, uid: u32, data: &[u8]) -> Result<PathBuf, String> {
        let staged = self.stage(data)?;
        self.commit(staged, uid)
    }

    /// Writes a message to `tmp/` and flushes it (the slow part, done before its UID is known
    /// and without holding the store).
    pub fn stage(&self, data: &[u8]) -> Result<Staged, String> {
        let now = jiff::Timestamp::now();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let host = dir_name(&gethostname::gethostname().to_string_lossy()).replace(['.', '%'], "_");
        let base = format!(
            "{}.M{}P{}Q{n}.{host}",
            now.as_second(),
            now.subsec_microsecond(),
            std::process::id()
        );
        let tmp = self.dir.join("tmp").join(&base);
        // A new file, never one already there (nor what a link there points to).
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io("create", &tmp, e))?;
        let written = f.write_all(data).and_then(|()| f.sync_data());
        drop(f);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write", &tmp, e));
        }
        Ok(Staged { tmp, base })
    }

    /// Moves a staged message into `new/` with its UID in the name.
    pub fn commit(&self, mut staged: Staged, uid: u32) -> Result<PathBuf, String> {
        let tmp = std::mem::take(&mut staged.tmp);
        let dest = self
            .dir
            .join("new")
            .join(format!("{},U={uid}", staged.base));
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("move into new/", &tmp, e));
        }
        Ok(dest)
    }

    /// Moves a message into `cur/` with these flags; returns its new path.
    pub fn set_flags(&self, path: &Path, flags: &[String]) -> Result<PathBuf, String> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("odd file name {}", path.display()))?;
        let (base, uid, _) = parse_name(name);
        let stem = match uid {
            Some(u) => format!("{base},U={u}"),
            None => base.to_string(),
        };
        let dest = self
            .dir
            .join("cur")
            .join(format!("{stem}:2,{}", letters(flags)));
        if dest != path {
            std::fs::rename(path, &dest).map_err(|e| io("rename", path, e))?;
        }
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags() {
        assert_eq!(dir_name("Alice@Example.test"), "alice@example.test");
        assert_eq!(dir_name("../../etc"), "%2E.%2F..%2Fetc");
        assert_eq!(dir_name(".x"), "%2Ex");
        assert_eq!(dir_name(""), "%");
        assert_eq!(
            parse_name("1.M2P3Q4.h,U=7:2,FS"),
            ("1.M2P3Q4.h", Some(7), Some("FS"))
        );
        assert_eq!(parse_name("1.x.h"), ("1.x.h", None, None));
        assert_eq!(
            letters(&["\\Seen".into(), "\\Flagged".into(), "$x".into()]),
            "FS"
        );
        assert_eq!(flags_of("FS"), vec!["\\Flagged", "\\Seen"]);
    }

    #[test]
    fn odd_addresses_get_a_directory_each_inside_the_root() {
        let long = format!("{}@example.test", "a".repeat(400));
        let longer = format!("{}b@example.test", "a".repeat(400));
        let names = [
            "a/b@x",
            "a_b@x",
            "a%2fb@x",
            "../x",
            "..",
            ".",
            "",
            "a\0b@x",
            "nul\u{0}@x",
            "ä@x",
            "ö@x",
            long.as_str(),
            longer.as_str(),
        ];
        let dirs: std::collections::HashSet<String> = names.iter().map(|n| dir_name(n)).collect();
        assert_eq!(dirs.len(), names.len(), "{dirs:?}");
        for (n, d) in names.iter().zip(names.iter().map(|n| dir_name(n))) {
            assert!(d.len() <= MAX_DIR_NAME, "{d}");
            assert!(
                !d.starts_with('.') && !d.contains('/') && !d.contains('\0'),
                "{d}"
            );
            if d.len() < 100 {
                assert_eq!(mailbox_of(&d).as_deref(), Some(*n));
            }
        }
        // Stored and found again under their own names, every one inside the root.
        let root = tempfile::tempdir().unwrap();
        for n in names {
            Maildir::create(root.path(), n, false, 1)
                .unwrap()
                .write(1, n.as_bytes())
                .unwrap();
        }
        let all = Maildir::open_all(root.path(), false, 1).unwrap();
        let mut found: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        found.sort();
        want.sort();
        assert_eq!(found, want);
        for (n, md) in &all {
            let (_, files) = md.load().unwrap();
            assert_eq!(files.len(), 1, "{n}");
            assert_eq!(std::fs::read(&files[0].path).unwrap(), n.as_bytes());
            assert!(files[0].path.starts_with(root.path()));
        }
    }

    #[test]
    fn a_staged_copy_is_renamed_under_its_uid_or_removed() {
        let root = tempfile::tempdir().unwrap();
        let md = Maildir::create(root.path(), "a@b", false, 1).unwrap();
        let kept = md.stage(b"kept\r\n").unwrap();
        let lost = md.stage(b"lost\r\n").unwrap();
        assert_eq!(
            std::fs::read_dir(root.path().join("a@b/tmp"))
                .unwrap()
                .count(),
            2
        );
        let path = md.commit(kept, 5).unwrap();
        assert!(path.starts_with(root.path().join("a@b/new")));
        assert_eq!(
            parse_name(path.file_name().unwrap().to_str().unwrap()).1,
            Some(5)
        );
        drop(lost);
        assert_eq!(
            std::fs::read_dir(root.path().join("a@b/tmp"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn two_files_with_one_uid_both_stay_in_view() {
        let root = tempfile::tempdir().unwrap();
        let md = Maildir::create(root.path(), "a@b", false, 1).unwrap();
        md.write(1, b"one\r\n").unwrap();
        md.write(1, b"two\r\n").unwrap();
        let (_, files) = md.load().unwrap();
        let uids: Vec<u32> = files.iter().map(|f| f.uid).collect();
        assert_eq!(uids, vec![1, 2]);
    }

    #[test]
    fn a_second_server_on_one_maildir_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let first = RootLock::take(root.path()).unwrap();
        let e = RootLock::take(root.path()).unwrap_err();
        assert!(e.contains("in use"), "{e}");
        drop(first);
        RootLock::take(root.path()).unwrap();
    }

    #[test]
    fn survives_a_reload_with_uids_and_flags() {
        let root = tempfile::tempdir().unwrap();
        let md = Maildir::create(root.path(), "a@b", false, 42).unwrap();
        let p1 = md.write(1, b"one\r\n").unwrap();
        md.write(2, b"two\r\n").unwrap();
        md.set_flags(&p1, &["\\Seen".into()]).unwrap();
        // A file another program delivered.
        std::fs::write(root.path().join("a@b/new/9.foreign.h"), b"three\r\n").unwrap();
        let all = Maildir::open_all(root.path(), false, 7).unwrap();
        assert_eq!(all.len(), 1);
        let (validity, files) = all[0].1.load().unwrap();
        assert_eq!(validity, 42);
        let got: Vec<(u32, Vec<String>, Vec<u8>)> = files
            .iter()
            .map(|f| (f.uid, f.flags.clone(), std::fs::read(&f.path).unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, vec!["\\Seen".to_string()], b"one\r\n".to_vec()),
                (2, vec![], b"two\r\n".to_vec()),
                (3, vec![], b"three\r\n".to_vec()),
            ]
        );
        // The foreign file keeps its UID from now on.
        let (_, again) = all[0].1.load().unwrap();
        assert_eq!(again[2].uid, 3);
        assert!(std::fs::read_dir(root.path().join("a@b/tmp"))
            .unwrap()
            .next()
            .is_none());
    }
}
