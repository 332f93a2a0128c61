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
}

/// Checks credentials against the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    failure_delay: Duration,
    cache: Arc<AuthCache>,
}

impl Authenticator {
    /// `failure_delay`: how long a failed login takes at least;
    /// `cache_ttl`: how long a verified password is remembered (zero: never).
    pub fn new(store: Arc<dyn Store>, failure_delay: Duration, cache_ttl: Duration) -> Self {
        Authenticator {
            store,
            failure_delay,
            cache: Arc::new(AuthCache::new(cache_ttl)),
        }
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
    /// spelling) and password (compared after [`passwords::prepare`]).
    pub async fn password(&self, user: &str, password: &str) -> Result<Account, LoginError> {
        let started = Instant::now();
        let password = &*passwords::prepare(password);
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
        let pw = password.to_string();
        // argon2 takes tens of milliseconds of CPU: keep it off the I/O threads.
        let ok = tokio::task::spawn_blocking(move || passwords::verify(&hash, &pw))
            .await
            .unwrap_or(false);
        match account {
            Some(a) if ok => {
                self.cache.insert(a.id, &a.password_hash, password);
                Ok(a)
            }
            _ => Err(self.fail(started).await),
        }
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
