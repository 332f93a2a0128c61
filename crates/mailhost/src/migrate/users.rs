//! Bulk account import (`praisani import users FILE`): a CSV file or a
//! Dovecot passwd-file is read and checked whole ([`parse`]), compared
//! with the store ([`plan`]) and written in one commit ([`apply`]) — a
//! file with one bad line writes nothing, and a second run of the same
//! file finds every account unchanged.
//!
//! Passwords arrive as the old server's hashes (the forms
//! [`ImportedHash`] takes; re-hashed to argon2id at each account's first
//! login) or, in CSV, as passwords (hashed here).

use crate::addressing::CATCH_ALL_LOCAL;
use crate::admin::accounts::imported_secrets;
use crate::admin::parse_quota;
use crate::passwords::{self, imported::ImportedHash};
use praisani_mailaddr::{Address, Domain};
use praisani_message::Language;
use praisani_store::{Account, AccountImport, NewAccount, Secrets, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The layout of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header line naming the columns: `address`, one of
    /// `password_hash` or `password`, and optionally `quota`, `messages`,
    /// `lang`.
    Csv,
    /// Dovecot's passwd-file: `user:{SCHEME}hash:uid:gid:gecos:home:shell:extra`,
    /// the quota from the extra fields' `userdb_quota_rule=*:storage=1G`.
    Passwd,
}

impl Format {
    /// The format of a file without `--format`: CSV when its name ends in
    /// `.csv` or its first line names an `address` column, else passwd-file.
    pub fn guess(name: &str, text: &str) -> Format {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if name.to_ascii_lowercase().ends_with(".csv")
            || first
                .split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("address"))
        {
            Format::Csv
        } else {
            Format::Passwd
        }
    }
}

/// How an imported account proves its password.
#[derive(Debug, Clone)]
pub enum Secret {
    /// The old server's hash, kept until the first login.
    Hash(ImportedHash),
    /// The password itself (CSV `password` column, passwd-file `{PLAIN}`).
    Password(String),
}

/// One account read from the file. Settings the file does not give
/// (`None`) stay as they are on an existing account and take their
/// defaults on a new one.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its line in the file (1-based).
    pub line: usize,
    /// Its address.
    pub address: Address,
    /// Its password.
    pub secret: Secret,
    /// Storage limit (`Some(None)`: unlimited).
    pub quota_bytes: Option<Option<u64>>,
    /// Message-count limit (`Some(None)`: unlimited).
    pub quota_messages: Option<Option<u64>>,
    /// Language of its notices.
    pub lang: Option<Language>,
}

/// What is wrong with one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why an import was refused or failed; in every case nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Lines of the file are wrong (all of them listed, in file order).
    #[error("{} line(s) of the file are wrong, nothing was imported:\n{}", .0.len(), list(.0))]
    Invalid(Vec<LineError>),
    /// Hashing a password failed.
    #[error("hashing: {0}")]
    Hashing(#[from] passwords::HashError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list(errors: &[LineError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn err(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// Reads and checks every line of `text`; any wrong line makes it an
/// error listing all of them. `domain` completes passwd-file users
/// without one.
pub fn parse(
    text: &str,
    format: Format,
    domain: Option<&Domain>,
) -> Result<Vec<Entry>, ImportError> {
    let (entries, mut errors) = match format {
        Format::Csv => parse_csv(text),
        Format::Passwd => parse_passwd(text, domain),
    };
    // The same mailbox twice: which line wins would be a guess.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        if let Some(first) = seen.insert(e.address.canonical().to_string(), e.line) {
            errors.push(err(
                e.line,
                format!("{} is already on line {first}", e.address),
            ));
            seen.insert(e.address.canonical().to_string(), first);
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(ImportError::Invalid(errors))
    }
}

fn address(line: usize, text: &str) -> Result<Address, LineError> {
    let a = Address::parse(text.trim()).map_err(|_| {
        err(
            line,
            format!("{:?} is not a valid mail address", text.trim()),
        )
    })?;
    if a.local() == CATCH_ALL_LOCAL {
        return Err(err(
            line,
            format!("{a} is reserved for the domain's catch-all"),
        ));
    }
    Ok(a)
}

fn hash(line: usize, text: &str) -> Result<Secret, LineError> {
    // Dovecot's cleartext schemes: the password itself.
    for prefix in ["{PLAIN}", "{CLEAR}", "{CLEARTEXT}"] {
        if text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return password(line, &text[prefix.len()..]);
        }
    }
    ImportedHash::parse(text)
        .map(Secret::Hash)
        .map_err(|e| err(line, e.to_string()))
}

fn password(line: usize, text: &str) -> Result<Secret, LineError> {
    if text.is_empty() {
        return Err(err(line, "the password is empty"));
    }
    crate::admin::accounts::check_password(text).map_err(|e| err(line, e.to_string()))?;
    Ok(Secret::Password(text.to_string()))
}

fn quota(line: usize, text: &str) -> Result<Option<u64>, LineError> {
    parse_quota(text.trim()).map_err(|e| err(line, e.to_string()))
}

fn count(line: usize, text: &str) -> Result<Option<u64>, LineError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "unlimited" | "none" => Ok(None),
        t => match t.parse::<u64>() {
            Ok(n) if n <= i64::MAX as u64 => Ok(Some(n)),
            _ => Err(err(line, format!("invalid message count {text:?}"))),
        },
    }
}

fn lang(line: usize, text: &str) -> Result<Language, LineError> {
    Language::from_tag(text.trim())
        .ok_or_else(|| err(line, format!("unknown language {text:?} (en, th, zh)")))
}

fn parse_csv(text: &str) -> (Vec<Entry>, Vec<LineError>) {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return (vec![], vec![err(1, format!("unreadable header: {e}"))]),
    };
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (addr_col, hash_col, pw_col) = (col("address"), col("password_hash"), col("password"));
    let (quota_col, msg_col, lang_col) = (col("quota"), col("messages"), col("lang"));
    let known = [
        "address",
        "password_hash",
        "password",
        "quota",
        "messages",
        "lang",
    ];
    let mut header_errors = vec![];
    if let Some(h) = headers
        .iter()
        .find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
    {
        header_errors.push(err(
            1,
            format!("unknown column {h:?} (known: {})", known.join(", ")),
        ));
    }
    if addr_col.is_none() {
        header_errors.push(err(1, "the header names no \"address\" column"));
    }
    match (hash_col, pw_col) {
        (None, None) => header_errors.push(err(
            1,
            "the header names neither a \"password_hash\" nor a \"password\" column",
        )),
        (Some(_), Some(_)) => header_errors.push(err(
            1,
            "give either a \"password_hash\" or a \"password\" column, not both",
        )),
        _ => {}
    }
    if !header_errors.is_empty() {
        return (vec![], header_errors);
    }
    let (mut entries, mut errors) = (vec![], vec![]);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, format!("unreadable CSV: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).filter(|v| !v.is_empty());
        let parsed = (|| {
            let address = address(line, field(addr_col).unwrap_or(""))?;
            let secret = match (field(hash_col), field(pw_col)) {
                (Some(h), _) => hash(line, h)?,
                (_, Some(p)) => password(line, p)?,
                _ => return Err(err(line, "no password")),
            };
            Ok(Entry {
                line,
                address,
                secret,
                quota_bytes: field(quota_col).map(|q| quota(line, q)).transpose()?,
                quota_messages: field(msg_col).map(|m| count(line, m)).transpose()?,
                lang: field(lang_col).map(|l| lang(line, l)).transpose()?,
            })
        })();
        match parsed {
            Ok(e) => entries.push(e),
            Err(e) => errors.push(e),
        }
    }
    (entries, errors)
}

fn parse_passwd(text: &str, domain: Option<&Domain>) -> (Vec<Entry>, Vec<LineError>) {
    let (mut entries, mut errors) = (vec![], vec![]);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        match passwd_line(line, raw, domain) {
            Ok(e) => entries.push(e),
            Err(e) => errors.push(e),
        }
    }
    (entries, errors)
}

fn passwd_line(line: usize, raw: &str, domain: Option<&Domain>) -> Result<Entry, LineError> {
    // user:password:uid:gid:gecos:home:shell:extra — the extra fields are
    // the rest of the line, colons included.
    let fields: Vec<&str> = raw.splitn(8, ':').collect();
    let user = fields[0].trim();
    let Some(pw) = fields.get(1).filter(|p| !p.is_empty()) else {
        return Err(err(line, format!("{user}: no password hash")));
    };
    let address = if user.contains('@') {
        address(line, user)?
    } else if let Some(d) = domain {
        address(line, &format!("{user}@{}", d.ascii()))?
    } else {
        return Err(err(line, format!("{user:?} has no domain (give --domain)")));
    };
    let secret = hash(line, pw)?;
    let (mut quota_bytes, mut quota_messages) = (None, None);
    if let Some(extra) = fields.get(7) {
        for field in extra.split_whitespace() {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let key = key.strip_prefix("userdb_").unwrap_or(key);
            if key.starts_with("quota_rule") {
                let (b, m) = quota_rule(line, value)?;
                quota_bytes = b.or(quota_bytes);
                quota_messages = m.or(quota_messages);
            }
        }
    }
    Ok(Entry {
        line,
        address,
        secret,
        quota_bytes,
        quota_messages,
        lang: None,
    })
}

/// A Dovecot quota rule of the whole mailbox (`*:storage=1G:messages=1000`;
/// `storage` counts kilobytes without a unit, `bytes` bytes; 0 is
/// unlimited). Rules of single folders are ignored: praisani's mailboxes
/// have none.
type Limits = (Option<Option<u64>>, Option<Option<u64>>);

fn quota_rule(line: usize, rule: &str) -> Result<Limits, LineError> {
    let mut parts = rule.split(':');
    let mask = parts.next().unwrap_or("");
    if mask != "*" && mask != "?" {
        return Ok((None, None));
    }
    let (mut bytes, mut messages) = (None, None);
    for limit in parts {
        let Some((key, value)) = limit.split_once('=') else {
            if limit == "ignore" || limit == "noenforcing" {
                continue;
            }
            return Err(err(line, format!("unreadable quota rule {rule:?}")));
        };
        let bad = || {
            err(
                line,
                format!("unsupported quota limit {limit:?} in {rule:?}"),
            )
        };
        if value.starts_with(['+', '-']) || value.ends_with('%') {
            return Err(bad());
        }
        let unlimited = |n: u64| if n == 0 { None } else { Some(n) };
        match key {
            "storage" | "bytes" => {
                let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let unit = &value[digits.len()..];
                let n: u64 = digits.parse().map_err(|_| bad())?;
                let mult: u64 = match unit.to_ascii_lowercase().as_str() {
                    "" if key == "storage" => 1 << 10,
                    "" | "b" => 1,
                    "k" => 1 << 10,
                    "m" => 1 << 20,
                    "g" => 1 << 30,
                    "t" => 1 << 40,
                    _ => return Err(bad()),
                };
                bytes = Some(unlimited(n.checked_mul(mult).ok_or_else(bad)?));
            }
            "messages" => {
                let n: u64 = value.parse().map_err(|_| bad())?;
                messages = Some(unlimited(n));
            }
            "backend" => {}
            _ => return Err(bad()),
        }
    }
    Ok((bytes, messages))
}

/// What `import users` does with one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new mailbox.
    Added,
    /// The mailbox exists as the file has it.
    Unchanged,
    /// The mailbox exists otherwise and is brought in line (`--update`).
    Updated(Vec<Field>),
    /// The mailbox exists otherwise and is left as it is (no `--update`).
    Skipped(Vec<Field>),
}

/// A setting in which an existing mailbox differs from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The password.
    Password,
    /// The storage limit.
    Quota,
    /// The message-count limit.
    Messages,
    /// The notices' language.
    Lang,
}

impl Field {
    /// Its name, as the file's columns and `--json` call it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Password => "password",
            Field::Quota => "quota",
            Field::Messages => "messages",
            Field::Lang => "lang",
        }
    }
}

/// One planned account.
#[derive(Debug)]
pub struct Planned {
    /// Its line in the file.
    pub line: usize,
    /// Its address.
    pub address: Address,
    /// What happens to it.
    pub outcome: Outcome,
    write: Option<AccountImport>,
}

/// The counts of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// New mailboxes.
    pub added: usize,
    /// Mailboxes already as the file has them.
    pub unchanged: usize,
    /// Mailboxes brought in line with the file.
    pub updated: usize,
    /// Mailboxes that differ from the file, left alone.
    pub skipped: usize,
}

/// What an import will do: domains to host, and each account's outcome.
#[derive(Debug)]
pub struct Plan {
    /// Domains hosted on the way (`--create-domains`).
    pub new_domains: Vec<Domain>,
    /// The accounts, in file order.
    pub accounts: Vec<Planned>,
}

impl Plan {
    /// How many accounts have each outcome.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for p in &self.accounts {
            match p.outcome {
                Outcome::Added => s.added += 1,
                Outcome::Unchanged => s.unchanged += 1,
                Outcome::Updated(_) => s.updated += 1,
                Outcome::Skipped(_) => s.skipped += 1,
            }
        }
        s
    }
}

/// How `import users` treats domains and existing mailboxes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Host the domains that are not hosted yet (else their lines are
    /// errors).
    pub create_domains: bool,
    /// Bring existing mailboxes that differ in line with the file (else
    /// they are reported and left alone).
    pub update: bool,
}

/// Compares `entries` with the store and decides each one's outcome,
/// hashing the passwords given as such. Lines the store makes wrong (a
/// domain not hosted, an alias of that address) are errors, all listed.
/// `progress` is called once per entry.
pub async fn plan(
    store: &dyn Store,
    entries: Vec<Entry>,
    options: Options,
    progress: &mut (dyn FnMut() + Send),
) -> Result<Plan, ImportError> {
    let mut domains: Vec<Domain> = vec![];
    for e in &entries {
        if !domains.contains(e.address.domain()) {
            domains.push(e.address.domain().clone());
        }
    }
    let (mut existing, mut aliases, mut new_domains) = (HashMap::new(), HashSet::new(), vec![]);
    for d in &domains {
        if !store.is_hosted(d).await? {
            new_domains.push(d.clone());
            continue;
        }
        for a in store.account_list(Some(d)).await? {
            existing.insert(a.address.canonical().to_string(), a);
        }
        for a in store.alias_list(Some(d)).await? {
            aliases.insert(a.address.canonical().to_string());
        }
    }
    let mut errors = vec![];
    let mut accounts = Vec::with_capacity(entries.len());
    for e in entries {
        progress();
        let key = e.address.canonical().to_string();
        if !options.create_domains && new_domains.contains(e.address.domain()) {
            errors.push(err(
                e.line,
                format!(
                    "domain {} is not hosted (add it first, or give --create-domains)",
                    e.address.domain().unicode()
                ),
            ));
            continue;
        }
        if aliases.contains(&key) {
            errors.push(err(e.line, format!("{} is an alias here", e.address)));
            continue;
        }
        accounts.push(match existing.get(&key) {
            None => added(e)?,
            Some(a) => compared(e, a, options.update)?,
        });
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    if !options.create_domains {
        new_domains.clear();
    }
    Ok(Plan {
        new_domains,
        accounts,
    })
}

fn secrets(secret: &Secret) -> Result<Secrets, ImportError> {
    Ok(match secret {
        Secret::Hash(h) => imported_secrets(h),
        Secret::Password(p) => passwords::secrets(p, false)?,
    })
}

fn added(e: Entry) -> Result<Planned, ImportError> {
    let s = secrets(&e.secret)?;
    let write = AccountImport {
        account: NewAccount {
            address: e.address.clone(),
            password_hash: s.password_hash,
            apop_secret: s.apop_secret,
            scram: s.scram,
            quota_bytes: e.quota_bytes.flatten(),
        },
        quota_messages: e.quota_messages.flatten(),
        lang: e.lang.unwrap_or_default(),
        replace: false,
    };
    Ok(Planned {
        line: e.line,
        address: e.address,
        outcome: Outcome::Added,
        write: Some(write),
    })
}

/// Whether an account's password is the file's. A hash is compared as
/// stored; an account whose hash was already replaced by praisani's own
/// (it has logged in here since) keeps it — its password is praisani's
/// to keep now, and the old server's hash cannot be compared with it.
fn same_password(secret: &Secret, account: &Account) -> bool {
    match secret {
        Secret::Hash(h) => {
            account.password_hash == h.stored() || passwords::is_current(&account.password_hash)
        }
        Secret::Password(p) => passwords::verify(&account.password_hash, p),
    }
}

fn compared(e: Entry, a: &Account, update: bool) -> Result<Planned, ImportError> {
    let mut differs = vec![];
    if !same_password(&e.secret, a) {
        differs.push(Field::Password);
    }
    if e.quota_bytes.is_some_and(|q| q != a.quota_bytes) {
        differs.push(Field::Quota);
    }
    if e.quota_messages.is_some_and(|q| q != a.quota_messages) {
        differs.push(Field::Messages);
    }
    if e.lang.is_some_and(|l| l != a.lang) {
        differs.push(Field::Lang);
    }
    let (outcome, write) = if differs.is_empty() {
        (Outcome::Unchanged, None)
    } else if !update {
        (Outcome::Skipped(differs), None)
    } else {
        let s = if differs.contains(&Field::Password) {
            secrets(&e.secret)?
        } else {
            Secrets {
                password_hash: a.password_hash.clone(),
                apop_secret: a.apop_secret.clone(),
                scram: a.scram.clone(),
            }
        };
        let write = AccountImport {
            account: NewAccount {
                address: a.address.clone(),
                password_hash: s.password_hash,
                apop_secret: s.apop_secret,
                scram: s.scram,
                quota_bytes: e.quota_bytes.unwrap_or(a.quota_bytes),
            },
            quota_messages: e.quota_messages.unwrap_or(a.quota_messages),
            lang: e.lang.unwrap_or(a.lang),
            replace: true,
        };
        (Outcome::Updated(differs), Some(write))
    };
    Ok(Planned {
        line: e.line,
        address: e.address,
        outcome,
        write,
    })
}

/// Writes `plan` in one commit (nothing when it changes nothing); answers
/// its counts.
pub async fn apply(store: &dyn Store, plan: Plan) -> Result<Summary, ImportError> {
    let summary = plan.summary();
    let writes: Vec<AccountImport> = plan.accounts.into_iter().filter_map(|p| p.write).collect();
    if !writes.is_empty() || !plan.new_domains.is_empty() {
        store.accounts_import(plan.new_domains, writes).await?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use praisani_store::EmbeddedStore;

    // "correct horse", as in passwords/imported/tests.rs.
    const SHA512: &str = "$6$Zq8sRt2u$SvEd.tP.7mVOhrPBVW7DD6DeFfEFTSKNOYI1IuvGWFSZeQDJulf/mX6u7U6oGVYz1MCofROITj.27PgZ3KDl6/";

    fn lines(r: Result<Vec<Entry>, ImportError>) -> Vec<(usize, String)> {
        match r {
            Err(ImportError::Invalid(e)) => e.into_iter().map(|e| (e.line, e.message)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_columns_and_errors() {
        let text = format!(
            "address,password_hash,quota,messages,lang\n\
             a@example.test,{{SHA512-CRYPT}}{SHA512},1G,100,th\n\
             b@example.test,{SHA512},,,\n"
        );
        let e = parse(&text, Format::Csv, None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].quota_bytes, Some(Some(1 << 30)));
        assert_eq!(e[0].quota_messages, Some(Some(100)));
        assert_eq!(e[0].lang, Some(Language::Th));
        assert_eq!(e[1].quota_bytes, None);
        let bad = "address,password_hash\nx@example.test,{MD4}abc\nnot an address,$6$x$y\nx@example.test,$1$salt$hash\n";
        let errs = lines(parse(bad, Format::Csv, None));
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].0, 2);
        assert!(errs[0].1.contains("unknown password scheme"), "{errs:?}");
        assert_eq!(errs[1].0, 3);
        assert!(
            lines(parse("address,secret\n", Format::Csv, None))[0]
                .1
                .contains("unknown column")
        );
    }

    #[test]
    fn passwd_file_lines() {
        let d = Domain::parse("example.test").unwrap();
        let text = format!(
            "# comment\n\
             alice@example.test:{{SHA512-CRYPT}}{SHA512}:1000:1000::/home/a::userdb_quota_rule=*:storage=1G userdb_quota_rule2=*:messages=50\n\
             bob:{{PLAIN}}secret::::::userdb_quota_rule=*:storage=2048\n\
             carol:{{PLAIN}}x::::::userdb_quota_rule=*:storage=+10%\n"
        );
        let errs = lines(parse(&text, Format::Passwd, Some(&d)));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 4);
        let e = parse(
            &text.lines().take(3).collect::<Vec<_>>().join("\n"),
            Format::Passwd,
            Some(&d),
        )
        .unwrap();
        assert_eq!(e[0].quota_bytes, Some(Some(1 << 30)));
        assert_eq!(e[0].quota_messages, Some(Some(50)));
        assert_eq!(e[1].address.to_string(), "bob@example.test");
        assert_eq!(e[1].quota_bytes, Some(Some(2 << 20)));
        assert!(matches!(&e[1].secret, Secret::Password(p) if p == "secret"));
        let errs = lines(parse("bob:$6$x$y\n", Format::Passwd, None));
        assert!(errs[0].1.contains("--domain"), "{errs:?}");
    }

    #[test]
    fn duplicates_are_errors() {
        let text = format!("a@example.test:{SHA512}\nA@EXAMPLE.test:{SHA512}\n");
        let errs = lines(parse(&text, Format::Passwd, None));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 2);
        assert!(errs[0].1.contains("is already on line 1"), "{errs:?}");
    }

    #[test]
    fn guessing() {
        assert_eq!(Format::guess("users.csv", ""), Format::Csv);
        assert_eq!(Format::guess("x", "Address,password\n"), Format::Csv);
        assert_eq!(Format::guess("passwd", "a:{PLAIN}x\n"), Format::Passwd);
    }

    #[tokio::test]
    async fn plan_apply_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let store: &dyn Store = &store;
        let text = format!("a@one.test:{SHA512}::::::userdb_quota_rule=*:storage=1M\n");
        let entries = || parse(&text, Format::Passwd, None).unwrap();
        let opts = Options::default();
        let e = plan(store, entries(), opts, &mut || {}).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1: domain one.test is not hosted"),
            "{e}"
        );
        let opts = Options {
            create_domains: true,
            ..opts
        };
        let p = plan(store, entries(), opts, &mut || {}).await.unwrap();
        assert_eq!(apply(store, p).await.unwrap().added, 1);
        let p = plan(store, entries(), opts, &mut || {}).await.unwrap();
        assert_eq!(p.summary().unchanged, 1);
        let changed = text.replace("storage=1M", "storage=2M");
        let p = plan(
            store,
            parse(&changed, Format::Passwd, None).unwrap(),
            opts,
            &mut || {},
        )
        .await
        .unwrap();
        assert_eq!(p.accounts[0].outcome, Outcome::Skipped(vec![Field::Quota]));
        apply(store, p).await.unwrap();
        let a = Address::parse("a@one.test").unwrap();
        assert_eq!(
            store.account_get(&a).await.unwrap().unwrap().quota_bytes,
            Some(1 << 20)
        );
        let opts = Options {
            update: true,
            ..opts
        };
        let p = plan(
            store,
            parse(&changed, Format::Passwd, None).unwrap(),
            opts,
            &mut || {},
        )
        .await
        .unwrap();
        assert_eq!(apply(store, p).await.unwrap().updated, 1);
        let got = store.account_get(&a).await.unwrap().unwrap();
        assert_eq!(got.quota_bytes, Some(2 << 20));
        assert!(passwords::verify(&got.password_hash, "correct horse"));
    }
}
