//! [`KeyStore`]: the DKIM keys of the hosted domains, one PEM file per key
//! in `<data_dir>/dkim/<domain-A-label>.<selector>.key` (mode 0600).
//!
//! Selectors we create are one DNS label, so the file name splits
//! unambiguously at its last dot. Keys are never overwritten: rotating a
//! key means creating one under a new selector, publishing it, and (once
//! the DNS has it) letting the newer key sign.

use super::{Algorithm, DkimError, Signer, SigningKey};
use praisani_mailaddr::Domain;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The DKIM keys kept in the data directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DkimError + '_ {
    move |source| DkimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parse_domain(domain: &str) -> Result<Domain, DkimError> {
    Domain::parse(domain).map_err(|_| DkimError::InvalidDomain(domain.to_string()))
}

/// A selector the key store accepts: one DNS label (letters, digits,
/// hyphens), stored lower-case.
fn store_selector(s: &str) -> Result<String, DkimError> {
    let l = s.to_ascii_lowercase();
    if super::valid_selector(&l) && !l.contains('.') {
        Ok(l)
    } else {
        Err(DkimError::InvalidSelector(s.to_string()))
    }
}

impl KeyStore {
    /// The key store of a data directory (its `dkim/` subdirectory, made
    /// when the first key is created).
    pub fn new(data_dir: &Path) -> Self {
        KeyStore {
            dir: data_dir.join("dkim"),
        }
    }

    /// The directory holding the key files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding the key of `signer`.
    pub fn file_of(&self, signer: &Signer) -> PathBuf {
        self.path(&signer.domain, &signer.selector)
    }

    /// The file of the key of `domain` (A-label) under `selector`.
    fn path(&self, domain: &str, selector: &str) -> PathBuf {
        self.dir.join(format!("{domain}.{selector}.key"))
    }

    /// Every key of `domain` (Unicode or A-label), newest first (by file
    /// modification time, then selector). No keys (or no directory): empty.
    /// A key file that cannot be read or parsed is an error, naming it.
    pub fn keys(&self, domain: &str) -> Result<Vec<Signer>, DkimError> {
        let domain = parse_domain(domain)?;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut found: Vec<(SystemTime, Signer)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".key") else {
                continue;
            };
            let Some((d, selector)) = stem.rsplit_once('.') else {
                continue;
            };
            if d != domain.ascii() || store_selector(selector).ok().as_deref() != Some(selector) {
                continue;
            }
            let path = entry.path();
            let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
            let key = SigningKey::from_pem(&pem)
                .map_err(|e| DkimError::Key(format!("{}: {e}", path.display())))?;
            let mtime = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((
                mtime,
                Signer::new(domain.ascii().to_string(), selector.to_string(), key),
            ));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.selector.cmp(&a.1.selector)));
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }

    /// The newest key of `domain`, if it has any.
    pub fn signer_for(&self, domain: &str) -> Result<Option<Signer>, DkimError> {
        Ok(self.keys(domain)?.into_iter().next())
    }

    /// The newest key of each algorithm of `domain` (RSA first, then
    /// Ed25519): sign with all of them, so that receivers that do not
    /// verify Ed25519 still find a signature they check.
    pub fn signers_for(&self, domain: &str) -> Result<Vec<Signer>, DkimError> {
        let keys = self.keys(domain)?;
        let mut out = Vec::new();
        for alg in [Algorithm::RsaSha256, Algorithm::Ed25519Sha256] {
            if let Some(s) = keys.iter().find(|s| s.key.algorithm() == alg) {
                out.push(s.clone());
            }
        }
        Ok(out)
    }

    /// Makes a new key for `domain` (Unicode or A-label) under `selector`
    /// (default `praisani<YYYYMM>`, the current UTC month) and writes it,
    /// mode 0600. An existing key file is never overwritten
    /// ([`DkimError::Exists`]). Whether the domain is hosted is the
    /// caller's business.
    pub fn create(
        &self,
        domain: &str,
        alg: Algorithm,
        selector: Option<&str>,
    ) -> Result<Signer, DkimError> {
        let domain = parse_domain(domain)?;
        let selector = match selector {
            Some(s) => store_selector(s)?,
            None => format!("praisani{}", chrono::Utc::now().format("%Y%m")),
        };
        let path = self.path(domain.ascii(), &selector);
        if path.exists() {
            return Err(DkimError::Exists(path));
        }
        let key = SigningKey::generate(alg)?;
        self.write_new(&path, key.to_pem().as_bytes())?;
        Ok(Signer::new(domain.ascii().to_string(), selector, key))
    }

    /// Writes `contents` to `path`, which must not exist: into a private
    /// temporary file first, made durable, then hard-linked into place
    /// (atomic, and failing if `path` appeared meanwhile), so that a crash
    /// never leaves a half-written key under a real name.
    fn write_new(&self, path: &Path, contents: &[u8]) -> Result<(), DkimError> {
        let mut dirb = std::fs::DirBuilder::new();
        dirb.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirb, 0o700);
        dirb.create(&self.dir).map_err(io(&self.dir))?;

        let tmp = self.dir.join(format!(
            ".tmp-{}-{:x}.pem",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let result = (|| {
            let mut f = opts.open(&tmp).map_err(io(&tmp))?;
            f.write_all(contents).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            drop(f);
            std::fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    DkimError::Exists(path.to_path_buf())
                } else {
                    io(path)(e)
                }
            })
        })();
        let _ = std::fs::remove_file(&tmp);
        result?;
        // The new name is durable once the directory is.
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
