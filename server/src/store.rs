//! Where the server keeps accounts, keys, authorization requests and limiter
//! states: a [`Store`] runs transactions, and [`MemoryStore`] keeps
//! everything in bounded in-memory tables. A database would implement the
//! same trait.

use std::collections::HashMap;
use std::sync::Mutex;

use keyrate::credential::authorization::AuthorizationRequest;
use keyrate::credential::digest::{KeyDigest, KeyId};
use keyrate::credential::key::{ApiKey, KeyHint};
use keyrate::credential::lifecycle::{Account, KeyRecord};
use keyrate::limit::{HeapSlots, Name, Policy, PolicyState};
use keyrate::policy::PolicySet;
use keyrate::time::Instant;
use keyrate::verify::{LimiterSlot, ScopeId, StoreError};

use crate::config::Capacity;

/// An account, found by its email.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// The account's id.
    pub id: u64,
    /// Its email.
    pub email: String,
    /// Its confirmation state.
    pub account: Account,
    /// Its paid plan, if any.
    pub plan: Option<Name>,
    /// The token of its confirmation link.
    pub confirm_token: String,
}

/// A key, found by its digest. The key itself is never kept.
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// The account it belongs to.
    pub account_id: u64,
    /// Its lifecycle record.
    pub record: KeyRecord,
    /// Its prefix and first characters, for listings.
    pub hint: KeyHint,
    /// The client that asked for it.
    pub client_name: String,
}

/// An open authorization request, found by its poll id.
#[derive(Clone, Debug)]
pub struct RequestRow {
    /// The account whose user approves or denies.
    pub account_id: u64,
    /// The client that asked.
    pub client_name: String,
    /// The state machine; holds the approved key until it is delivered.
    pub request: AuthorizationRequest<ApiKey>,
}

/// One transaction's view of the store.
pub trait Tx {
    /// The account with `email`.
    fn account(&mut self, email: &str) -> Option<&mut AccountRow>;
    /// The account with `id`.
    fn account_by_id(&mut self, id: u64) -> Option<&mut AccountRow>;
    /// The id of the account whose confirmation token is `token`.
    fn account_by_token(&mut self, token: &str) -> Option<u64>;
    /// Creates an account.
    fn create_account(&mut self, email: &str, token: &str) -> Result<u64, StoreError>;
    /// The key with `digest`.
    fn key(&mut self, digest: &KeyDigest) -> Option<&mut KeyRow>;
    /// The digest of the key with public id `id`.
    fn key_by_id(&mut self, id: &KeyId) -> Option<KeyDigest>;
    /// The digests of an account's keys.
    fn account_keys(&mut self, account_id: u64) -> Vec<KeyDigest>;
    /// Stores a new key.
    fn insert_key(&mut self, digest: KeyDigest, row: KeyRow) -> Result<(), StoreError>;
    /// The request with poll id `poll_id` (hex).
    fn request(&mut self, poll_id: &str) -> Option<&mut RequestRow>;
    /// The poll id of the request with approval id `approval_id` (hex).
    fn request_by_approval(&mut self, approval_id: &str) -> Option<String>;
    /// Stores a new request.
    fn insert_request(
        &mut self,
        poll_id: String,
        approval_id: String,
        row: RequestRow,
    ) -> Result<(), StoreError>;
    /// Removes a request.
    fn remove_request(&mut self, poll_id: &str);
    /// Poll ids of every request.
    fn request_ids(&mut self) -> Vec<String>;
    /// The limiter slot of `scope`, created empty if there is room (idle
    /// slots are swept to make room).
    fn limiter(
        &mut self,
        scope: &ScopeId<u64>,
        policies: &PolicySet<HeapSlots>,
        now: Instant,
    ) -> Result<&mut LimiterSlot<HeapSlots>, StoreError>;
    /// The state of `POST /v1/authorize`'s limiter for `who` (an address
    /// or an email, by `table`).
    fn authorize_limiter(
        &mut self,
        table: AuthorizeTable,
        who: &str,
        policy: &Policy<HeapSlots>,
        now: Instant,
    ) -> Result<&mut PolicyState<HeapSlots>, StoreError>;
}

/// The two limiter tables of `POST /v1/authorize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizeTable {
    /// Per client address.
    Address,
    /// Per email.
    Email,
}

/// A store: runs `f` as one transaction.
pub trait Store: Send + Sync + 'static {
    /// Runs `f` with exclusive access; what it changes is kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the store cannot be reached.
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx)) -> Result<(), StoreError>;

    /// Counts of what is held: (accounts, keys, requests, limiters,
    /// authorize limiters).
    fn sizes(&self) -> [usize; 5];
}

/// Runs `f` in a transaction of `store` and returns what it returns.
///
/// # Errors
///
/// As [`Store::transact`].
pub fn transact<R>(store: &dyn Store, f: impl FnOnce(&mut dyn Tx) -> R) -> Result<R, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    store.transact(&mut |tx| {
        if let Some(f) = f.take() {
            out = Some(f(tx));
        }
    })?;
    out.ok_or(StoreError::Unavailable)
}

/// Bounded in-memory tables behind one mutex.
#[derive(Debug)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

#[derive(Debug)]
struct Data {
    capacity: Capacity,
    next_account: u64,
    accounts: HashMap<String, AccountRow>,
    emails: HashMap<u64, String>,
    tokens: HashMap<String, u64>,
    keys: HashMap<[u8; 32], KeyRow>,
    key_ids: HashMap<KeyId, KeyDigest>,
    account_keys: HashMap<u64, Vec<KeyDigest>>,
    requests: HashMap<String, RequestRow>,
    approvals: HashMap<String, String>,
    limiters: HashMap<ScopeId<u64>, LimiterSlot<HeapSlots>>,
    /// Per address, then per email.
    authorize_limiters: [HashMap<String, PolicyState<HeapSlots>>; 2],
    /// When each full table (limiters, then the two authorize tables) was
    /// last swept: a full table is swept at most once a second, so a flood
    /// of new keys cannot make every request scan it.
    swept: [Option<Instant>; 3],
}

/// The least time between two sweeps of one full table.
const SWEEP_EVERY: core::time::Duration = core::time::Duration::from_secs(1);

/// True if a full table last swept at `last` may be swept again at `now`.
fn may_sweep(last: &mut Option<Instant>, now: Instant) -> bool {
    let due = last.is_none_or(|t| now < t || now.saturating_duration_since(t) >= SWEEP_EVERY);
    if due {
        *last = Some(now);
    }
    due
}

impl MemoryStore {
    /// An empty store with these bounds.
    pub fn new(capacity: Capacity) -> MemoryStore {
        MemoryStore {
            data: Mutex::new(Data {
                capacity,
                next_account: 1,
                accounts: HashMap::new(),
                emails: HashMap::new(),
                tokens: HashMap::new(),
                keys: HashMap::new(),
                key_ids: HashMap::new(),
                account_keys: HashMap::new(),
                requests: HashMap::new(),
                approvals: HashMap::new(),
                limiters: HashMap::new(),
                authorize_limiters: [HashMap::new(), HashMap::new()],
                swept: [None; 3],
            }),
        }
    }
}

impl Store for MemoryStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn Tx)) -> Result<(), StoreError> {
        let mut data = self.data.lock().map_err(|_| StoreError::Unavailable)?;
        f(&mut *data);
        Ok(())
    }

    fn sizes(&self) -> [usize; 5] {
        match self.data.lock() {
            Ok(d) => [
                d.accounts.len(),
                d.keys.len(),
                d.requests.len(),
                d.limiters.len(),
                d.authorize_limiters.iter().map(HashMap::len).sum(),
            ],
            Err(_) => [0; 5],
        }
    }
}

impl Tx for Data {
    fn account(&mut self, email: &str) -> Option<&mut AccountRow> {
        self.accounts.get_mut(email)
    }

    fn account_by_id(&mut self, id: u64) -> Option<&mut AccountRow> {
        let email = self.emails.get(&id)?;
        self.accounts.get_mut(email)
    }

    fn account_by_token(&mut self, token: &str) -> Option<u64> {
        self.tokens.get(token).copied()
    }

    fn create_account(&mut self, email: &str, token: &str) -> Result<u64, StoreError> {
        if self.accounts.len() >= self.capacity.accounts {
            return Err(StoreError::Full);
        }
        let id = self.next_account;
        self.next_account += 1;
        let row = AccountRow {
            id,
            email: email.to_owned(),
            account: Account::new(),
            plan: None,
            confirm_token: token.to_owned(),
        };
        self.accounts.insert(email.to_owned(), row);
        self.emails.insert(id, email.to_owned());
        self.tokens.insert(token.to_owned(), id);
        Ok(id)
    }

    fn key(&mut self, digest: &KeyDigest) -> Option<&mut KeyRow> {
        self.keys.get_mut(digest.as_bytes())
    }

    fn key_by_id(&mut self, id: &KeyId) -> Option<KeyDigest> {
        self.key_ids.get(id).copied()
    }

    fn account_keys(&mut self, account_id: u64) -> Vec<KeyDigest> {
        self.account_keys
            .get(&account_id)
            .cloned()
            .unwrap_or_default()
    }

    fn insert_key(&mut self, digest: KeyDigest, row: KeyRow) -> Result<(), StoreError> {
        if self.keys.len() >= self.capacity.keys {
            return Err(StoreError::Full);
        }
        self.account_keys
            .entry(row.account_id)
            .or_default()
            .push(digest);
        self.key_ids.insert(digest.id(), digest);
        self.keys.insert(*digest.as_bytes(), row);
        Ok(())
    }

    fn request(&mut self, poll_id: &str) -> Option<&mut RequestRow> {
        self.requests.get_mut(poll_id)
    }

    fn request_by_approval(&mut self, approval_id: &str) -> Option<String> {
        self.approvals.get(approval_id).cloned()
    }

    fn insert_request(
        &mut self,
        poll_id: String,
        approval_id: String,
        row: RequestRow,
    ) -> Result<(), StoreError> {
        if self.requests.len() >= self.capacity.requests {
            return Err(StoreError::Full);
        }
        self.approvals.insert(approval_id, poll_id.clone());
        self.requests.insert(poll_id, row);
        Ok(())
    }

    fn remove_request(&mut self, poll_id: &str) {
        self.requests.remove(poll_id);
        self.approvals.retain(|_, p| p != poll_id);
    }

    fn request_ids(&mut self) -> Vec<String> {
        self.requests.keys().cloned().collect()
    }

    fn limiter(
        &mut self,
        scope: &ScopeId<u64>,
        policies: &PolicySet<HeapSlots>,
        now: Instant,
    ) -> Result<&mut LimiterSlot<HeapSlots>, StoreError> {
        let full = self.limiters.len() >= self.capacity.limiters;
        if full && !self.limiters.contains_key(scope) {
            // Drop only slots that decide exactly as fresh ones would.
            if may_sweep(&mut self.swept[0], now) {
                self.limiters.retain(|_, slot| !slot.is_idle(policies, now));
            }
            if self.limiters.len() >= self.capacity.limiters {
                return Err(StoreError::Full);
            }
        }
        Ok(self.limiters.entry(*scope).or_default())
    }

    fn authorize_limiter(
        &mut self,
        table: AuthorizeTable,
        who: &str,
        policy: &Policy<HeapSlots>,
        now: Instant,
    ) -> Result<&mut PolicyState<HeapSlots>, StoreError> {
        let capacity = self.capacity.authorize_limiters;
        let [by_address, by_email] = &mut self.authorize_limiters;
        let [_, swept_address, swept_email] = &mut self.swept;
        let (states, swept) = match table {
            AuthorizeTable::Address => (by_address, swept_address),
            AuthorizeTable::Email => (by_email, swept_email),
        };
        if states.len() >= capacity && !states.contains_key(who) {
            if may_sweep(swept, now) {
                states.retain(|_, state| !policy.is_idle(state, now));
            }
            if states.len() >= capacity {
                return Err(StoreError::Full);
            }
        }
        Ok(states
            .entry(who.to_owned())
            .or_insert_with(|| policy.new_state()))
    }
}
