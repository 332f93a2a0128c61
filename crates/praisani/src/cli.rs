//! Command-line interface: `serve` and the admin commands.

use clap::{Args, Parser, Subcommand};
use praisani_message::Language;
use praisani_store::QueueId;
use std::path::PathBuf;

/// praisani — a mail server for hosting providers: SMTP in, POP3 out.
#[derive(Debug, Parser)]
#[command(name = "praisani", version, about)]
pub struct Cli {
    /// Configuration file (default: ./praisani.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Check the configuration file and print the effective settings.
    CheckConfig,
    /// Manage hosted domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Manage mailboxes.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage aliases.
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Inspect and steer the outbound queue.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Manage the DKIM signing keys of hosted domains.
    #[command(subcommand)]
    Dkim(DkimCmd),
    /// Manage admin API tokens (`listen.admin`).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Delete what the retention policies say has expired (the server does this every
    /// `retention.sweep_interval`); mailboxes open in a POP3 session are skipped.
    Expire {
        /// Sweep as if it were this time: RFC 3339 or YYYY-MM-DD (default: now).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
    /// DMARC aggregate reports (`[dmarc_reports]`; the server sends them daily).
    #[command(subcommand)]
    DmarcReport(DmarcReportCmd),
    /// TLS-RPT reports on our outbound TLS (`[tls_reports]`; the server sends them daily).
    #[command(subcommand)]
    TlsReport(TlsReportCmd),
    /// Move the store between backends.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Bring mail in from another server, keeping the UIDLs its POP3 clients know.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Write a mailbox out (Maildir or mbox) with its UIDLs, for a customer who leaves.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Print the DNS records a hosted domain needs (MX, SPF, DKIM, DMARC, SRV…), as zone-file lines.
    Dns {
        /// The domain (Unicode or A-label).
        domain: String,
    },
}

/// `import` subcommands: one per kind of source.
#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Import a Maildir's INBOX (Dovecot, Courier, qmail, Postfix layouts: cur/ and new/),
    /// with the UIDLs from dovecot-uidlist (saved P fields, else --uidl-format),
    /// courierpop3dsizelist, or the file names; read messages (flag S) stay read. Re-running
    /// imports only what is new. Maildir++ folders are not imported (POP3 sees the INBOX).
    Maildir {
        /// The Maildir (the directory with cur/ and new/).
        path: std::path::PathBuf,
        /// The mailbox to import into (it must exist).
        #[arg(long, value_name = "ADDRESS")]
        to: String,
        /// Dovecot's pop3_uidl_format of the old server, for messages without a saved UIDL:
        /// %u uid, %v uidvalidity, %f file name, %g guid, %m header MD5; modifiers 0N, X, L, U.
        #[arg(long, value_name = "FORMAT")]
        uidl_format: Option<String>,
        /// Read and count everything, store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create (or check) many mailboxes at once from a CSV file or a Dovecot passwd-file,
    /// keeping their password hashes. The whole file is checked first: one wrong line and
    /// nothing is written. A second run changes nothing.
    Users(ImportUsersArgs),
    /// Copy the mail of one account, or of every account of a CSV file, from another server
    /// over POP3, keeping each message's UIDL as that server reports it. A second run copies
    /// only what is new; nothing is deleted there unless --delete-at-source.
    Pop3(ImportPop3Args),
    /// Import an mbox file (mboxrd/mboxo): UIDLs from X-UIDL:, read flags from Status:.
    Mbox {
        /// The mbox file.
        file: std::path::PathBuf,
        /// The mailbox to import into (it must exist).
        #[arg(long, value_name = "ADDRESS")]
        to: String,
        /// Read and count everything, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// The longest line (or header field) accepted, in octets; a longer one stops the
        /// import with an error (memory stays bounded).
        #[arg(long, value_name = "OCTETS", default_value_t = praisani_mailhost::migrate::mbox::DEFAULT_MAX_LINE)]
        max_line: usize,
    },
}

/// `export` subcommands.
#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Write the mailbox as a Maildir; dovecot-uidlist keeps the UIDLs (P fields), read
    /// messages are flagged S. PATH must not exist or be empty.
    Maildir {
        /// The mailbox.
        address: String,
        /// The Maildir to create.
        path: std::path::PathBuf,
    },
    /// Write the mailbox as an mbox file (mboxrd) with X-UIDL: and Status: fields. FILE must
    /// not exist.
    Mbox {
        /// The mailbox.
        address: String,
        /// The mbox file to create.
        file: std::path::PathBuf,
    },
}

/// `dmarc-report` subcommands.
#[derive(Debug, Subcommand)]
pub enum DmarcReportCmd {
    /// Send the reports recorded so far, as the server does each day after midnight UTC: those
    /// of the days before today (each day's report is sent once, by whichever node takes it).
    Send {
        /// Send the days up to and including this one (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE", conflicts_with = "now")]
        day: Option<String>,
        /// Send today's report too, with what was recorded so far.
        #[arg(long)]
        now: bool,
    },
}

/// `tls-report` subcommands.
#[derive(Debug, Subcommand)]
pub enum TlsReportCmd {
    /// Send the reports recorded so far, as the server does each day after midnight UTC: those
    /// of the days before today (each day's report is sent once, by whichever node takes it).
    Send {
        /// Send the days up to and including this one (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE", conflicts_with = "now")]
        day: Option<String>,
        /// Send today's report too, with what was recorded so far.
        #[arg(long)]
        now: bool,
    },
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy everything (domains, mailboxes with their settings, aliases, messages with their
    /// UIDLs, the outbound queue) between the embedded store in `data_dir` and a PostgreSQL
    /// database. Stop every server using either first.
    Migrate {
        /// Copy the embedded store into this database (postgres://user@host/db).
        #[arg(
            long,
            value_name = "URL",
            required_unless_present = "from",
            conflicts_with = "from"
        )]
        to: Option<String>,
        /// Copy this database into the embedded store.
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// Replace what the target holds instead of refusing a non-empty target.
        #[arg(long)]
        force: bool,
    },
}

/// The layouts of `import users --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UsersFormat {
    /// A header line, then address,password_hash (or password)[,quota,messages,lang].
    Csv,
    /// Dovecot's passwd-file: user:{SCHEME}hash:uid:gid:gecos:home:shell:extra.
    Passwd,
}

/// `import users` options.
#[derive(Debug, Args)]
pub struct ImportUsersArgs {
    /// The file (CSV or Dovecot passwd-file; "-" for standard input).
    pub file: PathBuf,
    /// Its layout (default: CSV for *.csv or a header naming "address", else passwd-file).
    #[arg(long, value_enum)]
    pub format: Option<UsersFormat>,
    /// The domain of passwd-file users written without one.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Host the file's domains that are not hosted yet (else their lines are errors).
    #[arg(long)]
    pub create_domains: bool,
    /// Check the file and show what would change, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Bring existing mailboxes that differ from the file in line with it (else they are
    /// reported and left as they are).
    #[arg(long)]
    pub update: bool,
}

/// The TLS of `import pop3 --tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pop3Tls {
    /// TLS from the first byte (port 995).
    Implicit,
    /// Plain connection upgraded by STLS (port 110).
    Starttls,
    /// No TLS: passwords in the clear; only to a loopback address unless
    /// --insecure-plaintext.
    None,
}

/// `import pop3` options.
#[derive(Debug, Args)]
pub struct ImportPop3Args {
    /// The old server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub from: String,
    /// How to secure the connection (default: implicit on port 995, else starttls).
    #[arg(long, value_enum)]
    pub tls: Option<Pop3Tls>,
    /// Trust these PEM certificates instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate (a test server, a known self-signed one).
    #[arg(long)]
    pub insecure: bool,
    /// Allow --tls none to a server that is not on a loopback address.
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// The account at the old server (with --password-stdin).
    #[arg(
        long,
        value_name = "ADDRESS",
        required_unless_present = "accounts",
        conflicts_with = "accounts",
        requires = "password_stdin"
    )]
    pub user: Option<String>,
    /// Read the old server's password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The praisani mailbox to fill (default: the --user address).
    #[arg(long, value_name = "ADDRESS", requires = "user")]
    pub to: Option<String>,
    /// A CSV file of accounts: header user,password[,to].
    #[arg(long, value_name = "FILE.csv")]
    pub accounts: Option<PathBuf>,
    /// Delete each message at the old server once it is stored here.
    #[arg(long)]
    pub delete_at_source: bool,
    /// Messages stored per commit.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub batch: usize,
    /// Seconds each network step (connect, a reply, a message line) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Seconds the old server's greeting may take on a plain (or STARTTLS) connection: short,
    /// so an implicit-TLS port (silent until the client's TLS hello) fails quickly.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub greeting_timeout: u64,
    /// Largest message copied, in octets (larger ones are reported and left).
    #[arg(long, value_name = "SIZE", default_value = "100M")]
    pub max_message: String,
}

/// `dkim` subcommands.
#[derive(Debug, Subcommand)]
pub enum DkimCmd {
    /// Make a signing key for a hosted domain and print the DNS record to publish.
    Generate {
        /// The domain (Unicode or A-label).
        domain: String,
        /// Key type. Ed25519 is not yet verified by every large receiver: keep an RSA key too
        /// (the server signs with the newest key of each type).
        #[arg(long, value_enum, default_value_t = DkimAlgorithm::Rsa)]
        algorithm: DkimAlgorithm,
        /// The selector: one DNS label (default: praisani<YYYYMM>).
        #[arg(long)]
        selector: Option<String>,
    },
    /// List a hosted domain's keys, newest first, with their DNS records and which sign mail.
    List {
        /// The domain (Unicode or A-label).
        domain: String,
    },
}

/// The key types of `dkim generate --algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DkimAlgorithm {
    /// ed25519-sha256 (RFC 8463).
    Ed25519,
    /// rsa-sha256, 2048-bit key.
    Rsa,
}

/// `queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// List queued messages with each recipient's state.
    List,
    /// Show one queued message: envelope, recipients, last errors, next attempts.
    Show {
        /// The queue id.
        id: QueueId,
    },
    /// Try a message's pending recipients again now.
    Retry {
        /// The queue id.
        id: QueueId,
    },
    /// Remove a message from the queue (its pending recipients are dropped without a bounce).
    Delete {
        /// The queue id.
        id: QueueId,
    },
    /// Try every pending recipient again now.
    Flush,
    /// Hold a message's pending recipients: not sent until released.
    Hold {
        /// The queue id.
        id: QueueId,
    },
    /// Release a message's held recipients: send them now, or delete them.
    Release {
        /// The queue id.
        id: QueueId,
        /// Delete the held recipients instead of sending them.
        #[arg(long)]
        delete: bool,
    },
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Create the demo domain example.test and the account demo@example.test
    /// (password "demo-pass") if missing, and print how to use them.
    #[arg(long)]
    pub demo: bool,
}

/// `domain` subcommands.
#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    /// Host a domain (Unicode or A-label).
    Add {
        /// The domain, e.g. example.com, ตัวอย่าง.ไทย, 例子.中国.
        domain: String,
    },
    /// Stop hosting a domain.
    Remove {
        /// The domain.
        domain: String,
        /// Also remove its mailboxes (with their mail) and aliases.
        #[arg(long)]
        force: bool,
    },
    /// List hosted domains.
    List,
    /// Limit the storage of all the domain's mailboxes together.
    Quota {
        /// The domain.
        domain: String,
        /// e.g. 10G, or "unlimited".
        size: String,
    },
    /// Set the retention the domain's mailboxes inherit.
    Retention {
        /// The domain.
        domain: String,
        #[command(flatten)]
        keep: KeepArgs,
    },
    /// Catch mail for every address of the domain that has no mailbox or
    /// alias (the alias *@domain); without targets, show where it goes.
    Catchall {
        /// The domain.
        domain: String,
        /// Where such mail goes (mailboxes or aliases).
        targets: Vec<String>,
        /// Remove the catch-all: unknown addresses get 550 again.
        #[arg(long, conflicts_with = "targets")]
        off: bool,
    },
    /// The limits that bind the domain's administrators (admin API tokens
    /// for the domain): most mailboxes, aliases, quota per mailbox and in
    /// total. Without options, show them. The CLI and server-admin tokens
    /// are not bound.
    Limits {
        /// The domain.
        domain: String,
        /// Most mailboxes, or "unlimited".
        #[arg(long, value_name = "N")]
        mailboxes: Option<String>,
        /// Most aliases (the catch-all counts), or "unlimited".
        #[arg(long, value_name = "N")]
        aliases: Option<String>,
        /// Most quota of one mailbox, e.g. 2G, or "unlimited"; while set,
        /// domain administrators cannot make a mailbox unlimited.
        #[arg(long, value_name = "SIZE")]
        mailbox_quota: Option<String>,
        /// Most quota of all its mailboxes added up, e.g. 50G, or
        /// "unlimited"; while set, no mailbox of theirs is unlimited.
        #[arg(long, value_name = "SIZE")]
        total_quota: Option<String>,
        /// Remove every limit.
        #[arg(long, conflicts_with_all = ["mailboxes", "aliases", "mailbox_quota", "total_quota"])]
        clear: bool,
    },
    /// Who besides the postmaster is told about the domain's accounts (an
    /// account put on hold); without an address, show it.
    Contact {
        /// The domain.
        domain: String,
        /// The contact's address (may be outside this server).
        address: Option<String>,
        /// The language of the notices the contact gets.
        #[arg(long, value_parser = lang_parser(), default_value = "en", requires = "address")]
        lang: Language,
        /// Remove the contact: only the postmaster is told.
        #[arg(long, conflicts_with = "address")]
        off: bool,
    },
    /// Name a mailbox administrator of the domain in the web admin (`add`),
    /// take the role away (`remove`); without either, list them.
    Admin {
        /// The domain.
        domain: String,
        /// What to do.
        #[arg(value_enum, requires = "address")]
        action: Option<RoleChange>,
        /// The mailbox (of any hosted domain).
        address: Option<String>,
    },
}

/// `add` or `remove`, for `domain admin`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleChange {
    /// Give the role.
    Add,
    /// Take it away.
    Remove,
}

/// Retention settings: a number of days, "never", or "inherit".
#[derive(Debug, clap::Args)]
pub struct KeepArgs {
    /// Delete messages this many days after a mail program first downloaded them (POP3
    /// EXPIRE; 0: at the end of that session); "never"; "inherit" the level above.
    #[arg(long, value_name = "DAYS")]
    pub after_retrieval: Option<String>,
    /// Delete messages this many days after they arrived, read or not; "never"; "inherit".
    #[arg(long, value_name = "DAYS")]
    pub max_age: Option<String>,
}

/// The languages of notices to users, as `--lang` takes them.
fn lang_parser() -> impl clap::builder::TypedValueParser<Value = Language> {
    use clap::builder::{PossibleValue, TypedValueParser as _};
    clap::builder::PossibleValuesParser::new([
        PossibleValue::new("en").help("English"),
        PossibleValue::new("th").help("Thai"),
        PossibleValue::new("zh").help("Simplified Chinese"),
    ])
    .map(|tag: String| Language::from_tag(&tag).unwrap_or_default())
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a mailbox. Without --password-stdin or --hash-stdin a random password is generated and printed.
    Add {
        /// The address, e.g. somchai@example.com.
        address: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Read a password hash from another server from the first line of standard input:
        /// Dovecot's {SCHEME}… (SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, MD5-CRYPT, SSHA,
        /// SSHA256, SSHA512, PLAIN-MD5, ARGON2I, ARGON2ID) or a crypt string ($6$, $5$, $1$,
        /// $2y$, $argon2id$). It is re-hashed to argon2id at the first login.
        #[arg(long, conflicts_with_all = ["password_stdin", "apop"])]
        hash_stdin: bool,
        /// Storage quota, e.g. 500M, 2G (default: unlimited).
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// Most messages the mailbox may hold (default: unlimited).
        #[arg(long, value_name = "N")]
        messages: Option<u64>,
        /// Language of the notices the user gets (quota warnings, bounces).
        #[arg(long, value_parser = lang_parser(), default_value = "en")]
        lang: Language,
        /// Allow APOP logins; this keeps a copy of the password that the server can read.
        #[arg(long)]
        apop: bool,
    },
    /// Set a mailbox's quota: storage and, optionally, a message count.
    Quota {
        /// The address.
        address: String,
        /// e.g. 500M, 2G, or "unlimited".
        size: String,
        /// Most messages the mailbox may hold.
        #[arg(long, value_name = "N")]
        messages: Option<u64>,
    },
    /// Set the language of a mailbox's notices and where its quota warnings also go.
    Set {
        /// The address.
        address: String,
        /// Language of the notices.
        #[arg(long, value_parser = lang_parser())]
        lang: Option<Language>,
        /// Also send quota warnings to this address ("none" to stop).
        #[arg(long, value_name = "ADDRESS")]
        warn_to: Option<String>,
    },
    /// Set a mailbox's own retention (overrides its domain's and the server's).
    Retention {
        /// The address.
        address: String,
        #[command(flatten)]
        keep: KeepArgs,
    },
    /// Set a mailbox's vacation auto-reply (RFC 3834), turn it off, or show it (no options).
    Vacation {
        /// The address.
        address: String,
        /// The reply's subject (default: "Auto: " and the original subject).
        #[arg(long, value_name = "TEXT")]
        subject: Option<String>,
        /// The reply's text (UTF-8).
        #[arg(long, value_name = "TEXT", conflicts_with = "text_file")]
        text: Option<String>,
        /// Read the reply's text from this file (UTF-8).
        #[arg(long, value_name = "FILE")]
        text_file: Option<std::path::PathBuf>,
        /// First day of replies, YYYY-MM-DD (UTC).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day of replies, YYYY-MM-DD (UTC).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// At most one reply per sender in this many days (default 7).
        #[arg(long, value_name = "N")]
        interval_days: Option<u32>,
        /// Turn the vacation reply off.
        #[arg(long, conflicts_with_all = ["subject", "text", "text_file", "from", "until", "interval_days"])]
        off: bool,
    },
    /// Forward a mailbox's mail to other addresses, turn it off, or show it (no targets).
    Forward {
        /// The address.
        address: String,
        /// Where its mail goes (one or more addresses).
        targets: Vec<String>,
        /// Keep a copy in the mailbox too (the default).
        #[arg(long, conflicts_with = "no_keep")]
        keep: bool,
        /// Keep no copy: the mail only goes to the targets.
        #[arg(long)]
        no_keep: bool,
        /// Turn forwarding off.
        #[arg(long, conflicts_with_all = ["targets", "keep", "no_keep"])]
        off: bool,
    },
    /// Delete a mailbox and all its mail.
    Remove {
        /// The address.
        address: String,
    },
    /// List mailboxes, optionally of one domain.
    List {
        /// Only this domain.
        domain: Option<String>,
    },
    /// Change a mailbox's password.
    Passwd {
        /// The address.
        address: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Read a password hash from another server from the first line of standard input
        /// (the forms of `user add --hash-stdin`); APOP is turned off.
        #[arg(long, conflicts_with_all = ["password_stdin", "apop"])]
        hash_stdin: bool,
        /// Allow APOP logins (keeps a readable copy of the password).
        #[arg(long, conflicts_with = "no_apop")]
        apop: bool,
        /// Disallow APOP logins and forget the APOP secret.
        #[arg(long)]
        no_apop: bool,
    },
    /// Show one mailbox.
    Show {
        /// The address.
        address: String,
    },
    /// Put a mailbox's sending on hold: its submission is refused and its queued mail held.
    Suspend {
        /// The address.
        address: String,
        /// Why (shown to its mail program and in `user show`).
        #[arg(long, default_value = "suspended by the operator")]
        reason: String,
    },
    /// Take the hold off a mailbox and send its held mail now (or delete it).
    Release {
        /// The address.
        address: String,
        /// Delete the held mail instead of sending it.
        #[arg(long)]
        delete: bool,
    },
}

/// `alias` subcommands.
#[derive(Debug, Subcommand)]
pub enum AliasCmd {
    /// Create an alias delivering to one or more addresses.
    Add {
        /// The alias address.
        alias: String,
        /// Where its mail goes.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Remove an alias.
    Remove {
        /// The alias address.
        alias: String,
    },
    /// List aliases, optionally of one domain.
    List {
        /// Only this domain.
        domain: Option<String>,
    },
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token and print its secret (shown this once; only its digest is kept).
    Create {
        /// A server administrator's token: everything.
        #[arg(long, conflicts_with_all = ["domain", "user"], required_unless_present_any = ["domain", "user"])]
        admin: bool,
        /// A domain administrator's token for this domain (repeatable).
        #[arg(long, value_name = "DOMAIN", conflicts_with = "user")]
        domain: Vec<String>,
        /// A user's token for this one mailbox.
        #[arg(long, value_name = "ADDRESS")]
        user: Option<String>,
        /// What the token is for (shown by `token list`).
        #[arg(long, value_name = "TEXT", default_value = "")]
        name: String,
    },
    /// List the tokens (ids, names, scopes; no secrets).
    List,
    /// Revoke a token: it is refused from now on.
    Revoke {
        /// The token's id (from `token list`).
        id: i64,
    },
}
