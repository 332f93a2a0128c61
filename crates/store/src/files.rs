//! Private files: the data directory holds every user's mail, the SCRAM
//! keys and APOP secrets, so its directories are made 0700 and its files
//! 0600 whatever the process umask, and what is wider is reported.

use std::path::{Path, PathBuf};

/// Creates `dir` (and missing parents) readable by the owner only. An
/// existing directory is left as it is ([`too_wide`] reports it).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates `path` empty and readable by the owner only if it is missing.
/// SQLite then makes its `-wal` and `-shm` files with the same mode.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path).map(drop)
}

/// The entries of `dir` (the directory itself and everything below it)
/// that a group or other users can read, write or enter.
pub fn too_wide(dir: &Path) -> Vec<PathBuf> {
    let mut wide = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut todo = vec![dir.to_path_buf()];
        while let Some(p) = todo.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.permissions().mode() & 0o077 != 0 {
                wide.push(p.clone());
            }
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&p)
            {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    wide.sort();
    wide
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_private_and_wide_ones_found() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let file = dir.join("f");
        create_private_file(&file).unwrap();
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert!(too_wide(&dir).is_empty());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(too_wide(&dir), vec![file]);
    }
}
