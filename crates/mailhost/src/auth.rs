//! Login checks shared by every protocol.
//!
//! Every failure looks the same from outside: the same error after the same
//! delay, whether the user exists or not, so logins cannot enumerate
//! mailboxes.

use crate::auth_cache::AuthCache;
use crate::passwords;
use praisani_mailaddr::Address;
use praisani_store::{Account, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong credentials (deliberately indistinguishable).
    #[error("authentication failed")]
    Failed,
    /// The store could not be asked; try again later.
    #[error("temporary failure: {0}")]
    Temporary(StoreError),
    /// Every password-verification slot stayed busy for the whole wait.
    #[error("{0}")]
    Busy(#[from] passwords::Busy),
}

/// Checks credentials against the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    failure_delay: Duration,
    cache: Arc<AuthCache>,
    hashes: Arc<passwords::Verifier>,
}

impl Authenticator {
    /// `failure_delay`: how long a failed login takes at least;
    /// `cache_ttl`: how long a verified password is remembered (zero: never).
    pub fn new(store: Arc<dyn Store>, failure_delay: Duration, cache_ttl: Duration) -> Self {
        // Made now rather than at the first unknown user's login, which
        // would otherwise take two hashes' time and tell that it was unknown.
        std::thread::spawn(|| {
            passwords::dummy_hash();
        });
        Authenticator {
            store,
            failure_delay,
            cache: Arc::new(AuthCache::new(cache_ttl)),
            hashes: Arc::new(passwords::Verifier::new(0, Duration::from_secs(300))),
        }
    }

    /// At most `parallel` password hashes verified at once (0: one per CPU
    /// core); a login waits at most `wait` for its turn, then fails as
    /// [`LoginError::Busy`]. The default is one per core and 5 minutes.
    pub fn with_hash_limit(mut self, parallel: usize, wait: Duration) -> Self {
        self.hashes = Arc::new(passwords::Verifier::new(parallel, wait));
        self
    }

    /// How many password hashes are verified at once at most.
    pub fn parallel_hashes(&self) -> usize {
        self.hashes.parallel()
    }

    async fn find(&self, user: &str) -> Result<Option<Account>, LoginError> {
        let Ok(address) = Address::parse(user) else {
            return Ok(None);
        };
        self.store
            .account_get(&address)
            .await
            .map_err(LoginError::Temporary)
    }

    async fn fail(&self, started: Instant) -> LoginError {
        if let Some(rest) = self.failure_delay.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        LoginError::Failed
    }

    /// Checks a user name (the full address, in any normalisation or IDN
    /// spelling) and password (compared after [`passwords::prepare`]). An
    /// account whose secrets are not today's (a hash imported from another
    /// server, no SCRAM credentials yet) gets them derived again from the
    /// password that just matched ([`passwords::needs_upgrade`]).
    pub async fn password(&self, user: &str, password: &str) -> Result<Account, LoginError> {
        let started = Instant::now();
        let typed = password;
        let password = &*passwords::prepare(typed);
        let account = self.find(user).await?;
        if let Some(a) = &account
            && self.cache.hit(a.id, &a.password_hash, password)
        {
            return Ok(a.clone());
        }
        let hash = account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| passwords::dummy_hash().to_string());
        // Off the I/O threads, a bounded number at once (argon2's memory).
        let mut ok = self
            .hashes
            .verify(hash.clone(), password.to_string())
            .await?;
        if !ok && account.is_some() && typed != password && passwords::is_imported(&hash) {
            // The old server hashed the password as typed, unprepared.
            ok = self.hashes.verify(hash, typed.to_string()).await?;
        }
        match account {
            Some(a) if ok => {
                let a = self.upgrade(a, password).await;
                self.cache.insert(a.id, &a.password_hash, password);
                Ok(a)
            }
            _ => Err(self.fail(started).await),
        }
    }

    /// Replaces an account's secrets when [`passwords::needs_upgrade`] says
    /// so. Best effort: the login stands whatever happens here, and a
    /// password changed since the account was read is left alone.
    async fn upgrade(&self, mut account: Account, password: &str) -> Account {
        if !passwords::needs_upgrade(&account) {
            return account;
        }
        let secrets = match self
            .hashes
            .upgraded(password.to_string(), account.apop_secret.clone())
            .await
        {
            Ok(Some(Ok(s))) => s,
            Ok(Some(Err(e))) => {
                tracing::warn!(account = %account.address, "re-hashing the password failed: {e}");
                return account;
            }
            Ok(None) | Err(_) => return account,
        };
        match self
            .store
            .account_upgrade_password(account.id, &account.password_hash, &secrets)
            .await
        {
            Ok(true) => {
                tracing::info!(account = %account.address, "password re-hashed to argon2id");
                account.password_hash = secrets.password_hash;
                account.scram = secrets.scram;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(account = %account.address, "storing the re-hashed password failed: {e}");
            }
        }
        account
    }

    /// Checks an APOP login: `check` receives the account's APOP secret and
    /// says whether the client's digest matches it.
    pub async fn apop(
        &self,
        user: &str,
        check: impl FnOnce(&str) -> bool,
    ) -> Result<Account, LoginError> {
        let started = Instant::now();
        let account = self.find(user).await?;
        match account {
            Some(a) if a.apop_secret.as_deref().is_some_and(check) => Ok(a),
            _ => Err(self.fail(started).await),
        }
    }
}
